"""Model assistance: CAM -> proposed ROI, proposals stored with provenance and judged by readers,
acceptance/Dice report, and the "annotate next" queue, with tiny local few-shot and classifier models."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from core.assist import (ClassifierAssistant, ProtoNetAssistant, annotate_next, cam_spread, cam_to_mask,
                         largest_component, proposal_report, propose_roi, rank_images, unread_images)
from core.errors import ConfigError
from core.store import AnnotationStore, sha256_file

SIDE = 32


def disc(cy, cx, r, shape=(SIDE, SIDE)):
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    return (yy - cy) ** 2 + (xx - cx) ** 2 < r * r


@pytest.fixture
def fewshot_checkpoint(tmp_path):
    from core.fewshot import build_model, model_config, save_checkpoint

    torch.manual_seed(0)
    config = {"backbone": "conv4", "in_channels": 1, "hidden": 8, "embed_dim": 8, "metric": "squared_euclidean",
              "normalize": False}
    model = build_model(config)
    support = torch.stack([torch.from_numpy(disc(16, 16, r).astype(np.float32))[None] for r in (4, 5, 8, 9, 12, 13)])
    path = tmp_path / "fewshot-run" / "checkpoint.pt"
    path.parent.mkdir()
    save_checkpoint(path, model, model_config(model, 1, 8, "conv4"), support, torch.tensor([0, 0, 1, 1, 2, 2]),
                    ["small", "medium", "large"], extra={"cam_score": "log_prob"})
    return path


@pytest.fixture
def classifier_checkpoint(tmp_path):
    from core.models import ModelConfig, build_model
    from core.training import save_checkpoint

    torch.manual_seed(0)
    model = build_model(ModelConfig(arch="baseline", in_channels=1, num_classes=3, image_size=SIDE))
    return save_checkpoint(tmp_path / "classifier" / "model.pt", model)


@pytest.fixture
def png_store(workspace):
    """Six distinct PNG images of a bright disc of growing radius."""
    store = AnnotationStore(workspace)
    folder = workspace.root / "images"
    folder.mkdir(parents=True, exist_ok=True)
    ids = []
    for k in range(6):
        buf = io.BytesIO()
        Image.fromarray(np.uint8(40 + 180 * disc(14 + k, 16, 4 + 2 * k))).save(buf, format="PNG")
        path = folder / f"disc{k}.png"
        path.write_bytes(buf.getvalue())
        ids.append(store.add_image_file(path, shape=(SIDE, SIDE), display_name=path.name))
    return store, ids


def test_cam_to_mask_keeps_the_largest_smooth_component():
    cam = np.zeros((40, 40))
    cam[disc(12, 12, 8, (40, 40))] = 0.9
    cam[disc(30, 30, 4, (40, 40))] = 1.0  # brighter but smaller
    cam[12, 12] = 0.1  # a hole in the big blob
    raw = cam_to_mask(cam, threshold=0.5, smooth_sigma=0)
    assert not raw[12, 12] and not raw[30, 30] and raw.sum() == disc(12, 12, 8, (40, 40)).sum() - 1
    smooth = cam_to_mask(cam, threshold=0.5, smooth_sigma=1.0)
    assert smooth[12, 12] and not smooth[30, 30] and abs(int(smooth.sum()) - int(raw.sum())) < 0.1 * raw.sum()
    assert np.array_equal(largest_component(smooth), smooth)
    assert cam_to_mask(np.zeros((10, 10))) is None
    for bad in (0.0, 1.0, -1):
        with pytest.raises(ConfigError, match="threshold"):
            cam_to_mask(cam, threshold=bad)
    assert cam_spread(np.ones((8, 8))) == pytest.approx(1.0)
    one = np.zeros((8, 8))
    one[3, 3] = 1
    assert cam_spread(one) == 0.0


@pytest.mark.parametrize("kind", ["fewshot", "classifier"])
def test_assistant_analysis_is_the_models_own_gradcam(kind, fewshot_checkpoint, classifier_checkpoint):
    from core.explain import ClassLogitTarget, GradCAM
    from core.fewshot import PrototypeScoreTarget, load_checkpoint, pairwise_distance

    assistant = ProtoNetAssistant(fewshot_checkpoint) if kind == "fewshot" else \
        ClassifierAssistant(classifier_checkpoint)
    images = [disc(16, 16, r).astype(np.float32) * 0.8 for r in (3, 7, 11)]
    results = assistant.analyse(images)
    x = torch.stack([torch.from_numpy(i)[None] for i in images])
    model = assistant.model
    if kind == "fewshot":
        _, payload = load_checkpoint(fewshot_checkpoint)
        with torch.no_grad():
            d = pairwise_distance(model(x), payload["prototypes"], "squared_euclidean")
        predicted = d.argmin(1)
        target = PrototypeScoreTarget(payload["prototypes"], predicted, "squared_euclidean", "log_prob")
        sorted_d = d.sort(1).values
        margins = sorted_d[:, 1] - sorted_d[:, 0]
    else:
        with torch.no_grad():
            logits = model(x)
        predicted = logits.argmax(1)
        target = ClassLogitTarget(predicted)
        top = logits.topk(2, 1).values
        margins = top[:, 0] - top[:, 1]
    with GradCAM(model, model.cam_layer) as cam:
        maps = cam(x, target).detach()
    for k, r in enumerate(results):
        assert r.predicted == int(predicted[k]) and r.margin == pytest.approx(float(margins[k]), rel=1e-5)
        assert r.probabilities.sum() == pytest.approx(1.0, abs=1e-5) and 0 <= r.entropy <= 1
        np.testing.assert_allclose(r.cam, maps[k].numpy(), atol=1e-5)
    assert assistant.sha256 == sha256_file(fewshot_checkpoint if kind == "fewshot" else classifier_checkpoint)
    assert model.training is False


def test_proposal_provenance_decisions_and_report(png_store, fewshot_checkpoint):
    store, ids = png_store
    assistant = ProtoNetAssistant(fewshot_checkpoint, name="fewshot-run")
    proposal = propose_roi(store, ids[3], assistant, threshold=0.4, smooth_sigma=1.0)
    assert proposal is not None and proposal.model == "fewshot-run"
    assert proposal.model_sha256 == sha256_file(fewshot_checkpoint)
    assert proposal.method["explainer"] == "gradcam" and proposal.method["threshold"] == 0.4
    assert proposal.label == proposal.method["predicted"] in assistant.class_names
    (analysis,) = assistant.analyse([np.asarray(Image.open(store.get_image(ids[3]).source_path)) / 255.0])
    assert np.array_equal(proposal.mask, cam_to_mask(analysis.cam, 0.4, 1.0))
    edited = proposal.mask.copy()
    edited[: SIDE // 2] = False
    assert edited.any()
    store.decide_proposal(proposal.id, "R1", accept=True)
    store.decide_proposal(proposal.id, "R2", accept=True, mask=edited)
    store.decide_proposal(proposal.id, "R3", accept=False)
    report = proposal_report(store)
    overall = report.overall
    assert overall["counts"] == {"accepted": 1, "edited": 1, "rejected": 1}
    assert overall["acceptance_rate"] == pytest.approx(2 / 3) and overall["unedited_rate"] == pytest.approx(1 / 3)
    low, high = overall["acceptance_ci95"]
    assert low < 2 / 3 < high
    expected = 2 * edited.sum() / (edited.sum() + proposal.mask.sum())
    dices = sorted(o.dice for o in report.outcomes if o.dice is not None)
    assert dices == [pytest.approx(expected), 1.0]
    assert report.groups[("reader", "R3")]["acceptance_rate"] == 0.0
    assert report.groups[("model", "fewshot-run")]["decisions"] == 3
    mine = proposal_report(store, reader="R2")  # what a blinded reader is shown: their own decisions
    assert [(o.reader, o.decision) for o in mine.outcomes] == [("R2", "edited")]
    assert list(mine.groups) == [("model", "fewshot-run"), ("reader", "R2")]
    # the final ROI is the current version: R1 later removes their ROI, so their Dice falls to 0
    r1 = next(d for d in store.proposal_decisions(proposal.id) if d.reader == "R1")
    store.delete_roi(r1.roi_id, annotator="R1")
    assert min(o.dice for o in proposal_report(store).outcomes if o.reader == "R1") == 0.0


def test_annotate_next_ranks_only_unread_images(png_store, classifier_checkpoint):
    store, ids = png_store
    assistant = ClassifierAssistant(classifier_checkpoint)
    store.add_roi(ids[0], "lesion", disc(14, 16, 4), annotator="R1")
    store.set_image_label(ids[1], "small", "R2")
    store.submit_image(ids[2], "R1")
    assert unread_images(store) == ids[3:]
    assert unread_images(store, "R1") == ids[1:2] + ids[3:]
    for by in ("entropy", "margin", "cam_spread"):
        queue = annotate_next(store, assistant, by=by)
        assert sorted(q.image_id for q in queue) == ids[3:]
        values = [q.uncertainty for q in queue]
        assert values == sorted(values, reverse=True)
        key = {"entropy": lambda q: q.entropy, "margin": lambda q: -q.margin, "cam_spread": lambda q: q.cam_spread}[by]
        assert [key(q) for q in queue] == pytest.approx(values)
    mine = annotate_next(store, assistant, by="margin", reader="R1", limit=2)
    assert len(mine) == 2 and {q.image_id for q in mine} <= set(ids[1:2] + ids[3:])
    with pytest.raises(ConfigError, match="unknown order"):
        rank_images(assistant, [], by="random")
