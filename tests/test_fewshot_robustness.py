"""Few-shot robustness: a ProtoNet's episodes under worst-case attack, rotation and rescaling."""

from __future__ import annotations

import json

import pytest
import torch

from core.errors import ConfigError, LoadError
from core.fewshot import (RunConfig, TrainConfig, brain_phantom, build_model, evaluate_episodic, run_fewshot,
                          split_by_group, train_fewshot)
from core.fewshot.classifier import PrototypeClassifier
from core.fewshot.robustness import (METRICS, RANDOM_ANGLE, perturbation_report, rescale_with_roi, rotate_with_roi,
                                     run_report)
from core.fewshot.sampler import EpisodicSampler

SMALL = dict(way=3, shot=2, query=3, seed=11, eval_disjoint=True, cam_score="log_prob")
BUDGET = dict(attack_steps=10, n_queries=30)


def _model(backbone: str = "conv4", size: int = 32):
    torch.manual_seed(0)
    return build_model({"backbone": backbone, "in_channels": 3, "hidden": 8, "embed_dim": 8,
                        "metric": "squared_euclidean", "normalize": False, "image_size": size})


@pytest.fixture(scope="module")
def trained():
    data = brain_phantom(12, 3, 32, seed=3, cue="none")
    train, test = split_by_group(data, 0.5, seed=0)
    model = _model()
    train_fewshot(model, train, TrainConfig(way=3, shot=2, query=2, episodes=30, seed=0))
    return model, test


@pytest.fixture(scope="module")
def report(trained):
    model, test = trained
    return perturbation_report(model, test, episodes=3, eps=(0.0, 1 / 255, 4 / 255), angles=(0.0, 90.0, RANDOM_ANGLE),
                               scales=(1.0, 0.8), **SMALL, **BUDGET)


def _means(report, kind, metric="accuracy"):
    return [c["mean"] for c in report["curves"][kind][metric]]


def test_identity_conditions_equal_clean_and_match_the_evaluation(trained, report):
    model, test = trained
    json.dumps(report)
    clean = report["clean"]
    for kind in ("attack", "rotation", "scale"):  # eps 0, angle 0, scale 1 are the first x of each
        for m in METRICS:
            assert report["curves"][kind][m][0 if kind != "scale" else 0] == clean[m]
    ref = evaluate_episodic(model, test, 3, 2, 3, episodes=3, seed=11, cam_episodes=3, cam_scores=("log_prob",))
    assert clean["accuracy"]["mean"] == pytest.approx(ref["accuracy"]["mean"], abs=1e-9)
    assert clean["dice"]["mean"] == pytest.approx(ref["alignment"]["dice"]["mean"], abs=1e-6)
    assert clean["pointing"]["mean"] == pytest.approx(ref["alignment"]["pointing"]["mean"], abs=1e-6)
    assert report["settings"]["episodes"] == 3 and report["seeds"]["episodes"] == 11


def test_attack_never_beats_clean_per_episode_and_is_monotone(report):
    clean = report["per_episode"]["clean"]["accuracy"]
    rows = report["per_episode"]["attack"]
    assert clean[0] >= 0 and any(a > 0 for a in clean)  # the trained model classifies something
    for k in range(1, len(rows)):
        assert all(a <= c + 1e-9 for a, c in zip(rows[k]["accuracy"], clean))
    assert _means(report, "attack")[2] <= _means(report, "attack")[1] + 1e-9
    assert _means(report, "attack")[2] < report["clean"]["accuracy"]["mean"]


def test_same_seed_same_report_and_the_model_is_left_alone(trained):
    model, test = trained
    model.train()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    kw = dict(episodes=2, eps=(2 / 255,), angles=(RANDOM_ANGLE,), scales=(), **SMALL, **BUDGET)
    a, b = perturbation_report(model, test, **kw), perturbation_report(model, test, **kw)
    assert model.training and all(torch.equal(state[k], v) for k, v in model.state_dict().items())
    assert a["per_episode"] == b["per_episode"]
    model.eval()


def test_equivariant_backbone_keeps_accuracy_under_90_degrees():
    data = brain_phantom(6, 3, 32, seed=5, cue="none")
    model = _model("equivariant", 32)
    out = perturbation_report(model, data, episodes=2, eps=(), angles=(0.0, 90.0, 180.0), scales=(), **SMALL)
    acc = _means(out, "rotation")
    assert acc[1] == pytest.approx(acc[0], abs=1e-9) and acc[2] == pytest.approx(acc[0], abs=1e-9)
    # Grad-CAM rotates with the image and so does the ROI: the alignment is unchanged too.
    dice = _means(out, "rotation", "dice")
    assert dice[1] == pytest.approx(dice[0], abs=1e-4)
    # A plain backbone on the same episodes is not invariant (the test can fail).
    plain = perturbation_report(_model("conv4"), data, episodes=2, eps=(), angles=(0.0, 90.0), scales=(), **SMALL)
    assert _means(plain, "rotation", "dice")[1] != pytest.approx(_means(plain, "rotation", "dice")[0], abs=1e-4)


@pytest.mark.parametrize("move", ["rotate", "random", "scale-down", "scale-up"])
def test_rois_move_exactly_like_the_image(move):
    torch.manual_seed(0)
    roi = torch.zeros(4, 32, 32, dtype=torch.bool)
    roi[:, 5:14, 18:27] = True
    x = torch.cat([roi.float()[:, None], torch.rand(4, 2, 32, 32)], dim=1)
    fn = {"rotate": lambda a, b: rotate_with_roi(a, b, 90.0), "random": lambda a, b: rotate_with_roi(
        a, b, torch.tensor([10.0, 100.0, 200.0, 333.0])), "scale-down": lambda a, b: rescale_with_roi(a, b, 0.8),
          "scale-up": lambda a, b: rescale_with_roi(a, b, 1.25)}[move]
    x2, roi2 = fn(x, roi)
    assert x2.shape == x.shape and roi2.dtype == torch.bool and 0 <= float(x2.min()) and float(x2.max()) <= 1
    assert torch.equal(x2[:, 0] >= 0.5, roi2) and bool(roi2.any())
    if move == "rotate":
        assert torch.equal(roi2, torch.rot90(roi, 1, (1, 2)))


def test_oracle_torchattacks_apgd_on_one_episode(trained):
    """Our worst case on the episode's PrototypeClassifier is no weaker than torchattacks' APGD-CE."""
    torchattacks = pytest.importorskip("torchattacks")
    model, test = trained
    ep = next(iter(EpisodicSampler(test.labels, 3, 2, 3, episodes=1, seed=11, groups=test.groups,
                                   patient_disjoint=True)))
    x, y = test.images[ep.query], ep.query_labels
    clf = PrototypeClassifier.from_support(model, test.images[ep.support], ep.support_labels, ["a", "b", "c"]).eval()
    radii = (0.1 / 255, 0.25 / 255, 0.5 / 255, 1 / 255)
    ours = perturbation_report(model, test, episodes=1, eps=radii, angles=(), scales=(), attack_steps=50,
                               n_queries=100, **SMALL)
    for k, eps in enumerate(radii):
        atk = torchattacks.APGD(clf, norm="Linf", eps=eps, steps=50, loss="ce", seed=0)
        with torch.no_grad():
            theirs = float((clf(atk(x, y)).argmax(1) == y).float().mean())
        assert ours["per_episode"]["attack"][k]["accuracy"][0] <= theirs + 0.01


def test_roi_modes_restrict_the_attack(trained):
    model, test = trained
    kw = dict(episodes=2, eps=(16 / 255,), angles=(), scales=(), **SMALL, **BUDGET)
    whole = perturbation_report(model, test, **kw)
    inside = perturbation_report(model, test, roi_mode="inside", **kw)
    assert inside["settings"]["roi_mode"] == "inside"
    # Fewer pixels to change cannot make the worst case stronger (up to the attack's own randomness).
    assert _means(whole, "attack")[0] <= _means(inside, "attack")[0] + 1 / 9


def test_bad_input_is_one_line(trained, tmp_path):
    model, test = trained
    for bad, match in (({"eps": (8.0,)}, "out of range"), ({"eps": (-1 / 255,)}, ">= 0"),
                       ({"scales": (0.0,)}, "scale"), ({"angles": ("sideways",)}, "angle"),
                       ({"roi_mode": "around"}, "ROI mode"), ({"attack": "nope"}, "unknown attack"),
                       ({"cam_score": "nope"}, "CAM score"), ({"episodes": 0}, "episode")):
        kw = {**SMALL, "episodes": 1, **bad}
        with pytest.raises(ConfigError, match=match) as err:
            perturbation_report(model, test, **kw)
        assert "\n" not in str(err.value)
    with pytest.raises(ConfigError, match="not a few-shot run folder"):
        run_report(tmp_path)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("fsrun") / "run"
    cfg = RunConfig(dataset="brain-phantom", patients=12, slices=3, size=32, hidden=8, embed_dim=8,
                    eval_episodes=4, cam_episodes=2, train=TrainConfig(episodes=3, shot=2, query=2, seed=0))
    run_fewshot(cfg, out)
    return out


def test_run_report_rebuilds_the_runs_test_episodes(run_dir):
    out = run_report(run_dir, eps=(0.0,), angles=(0.0,), scales=(1.0,))
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert out["settings"]["episodes"] == 4 and out["run"]["guidance"] == metrics["config"]["train"]["guidance"]
    assert out["clean"]["accuracy"]["mean"] == pytest.approx(metrics["accuracy"]["mean"], abs=1e-9)
    assert out["clean"]["dice"]["n"] == 4


def test_run_without_support_set_is_a_load_error(run_dir, tmp_path):
    import shutil

    bad = tmp_path / "nosupport"
    shutil.copytree(run_dir, bad)
    payload = torch.load(bad / "checkpoint.pt", weights_only=True)
    payload.pop("support_images")
    torch.save(payload, bad / "checkpoint.pt")
    with pytest.raises(LoadError, match="without a support set"):
        run_report(bad, eps=(0.0,), angles=(), scales=())


def test_cli_writes_the_report_atomically_and_prints_the_table(run_dir, tmp_path):
    from conftest import run_cli

    out = tmp_path / "r.json"
    res = run_cli("--workspace", str(tmp_path / "ws"), "fewshot-robustness", "--run", str(run_dir), "--quick",
                  "--eps", "0,2/255", "--angles", "90,random", "--scales", "none", "--roi-mode", "outside",
                  "--out", str(out))
    assert res.returncode == 0, res.stderr
    doc = json.loads(out.read_text())
    assert doc["quick"] and doc["settings"]["episodes"] == 3 and doc["settings"]["roi_mode"] == "outside"
    assert doc["curves"]["rotation"]["x"] == [90.0, RANDOM_ANGLE] and doc["curves"]["scale"]["x"] == []
    assert doc["settings"]["attack_steps"] == 10 and "eps 2.0/255" in res.stdout
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("r.json")] == ["r.json"]


@pytest.mark.parametrize("argv,match", [
    (["--eps", "8"], "eps"), (["--scales", "0"], "scale"), (["--angles", "a,b"], "--angles"),
    (["--steps", "0"], "--steps"), ([], "not a few-shot run folder")])
def test_cli_bad_input_is_one_error_line(run_dir, tmp_path, capsys, argv, match):
    from core.cli import main

    target = tmp_path if match.startswith("not a") else run_dir
    code = main(["--workspace", str(tmp_path / "ws"), "fewshot-robustness", "--run", str(target), *argv,
                 "--out", str(tmp_path / "r.json")])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error:") and match in lines[0]
    assert not (tmp_path / "r.json").exists()
