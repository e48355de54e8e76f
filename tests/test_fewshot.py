"""Prototypical networks, episodic sampling, guided training, evaluation and checkpoints."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from core.errors import ConfigError, LoadError
from core.fewshot import (EpisodicSampler, FewShotData, ProtoNet, RunConfig, TrainConfig, brain_phantom,
                          build_backbone, build_model, class_prototypes, episode_step, evaluate_episodic,
                          load_checkpoint, load_split, pairwise_distance, save_checkpoint, split_by_group,
                          train_fewshot)


SMALL = {"backbone": "conv4", "in_channels": 3, "hidden": 8, "embed_dim": 16,
         "metric": "squared_euclidean", "normalize": False}


def _small_model(seed=0, **kw):
    torch.manual_seed(seed)
    return build_model({**SMALL, **kw})


@pytest.fixture(scope="module")
def tiny():
    return brain_phantom(n_patients=12, images_per_patient=3, size=32, seed=0)


# --------------------------------------------------------------------------- sampler
def test_sampler_episode_shapes_and_labels(tiny):
    s = EpisodicSampler(tiny.labels, way=3, shot=2, query=3, episodes=4, seed=1, groups=tiny.groups)
    eps = list(s)
    assert len(eps) == 4
    for ep in eps:
        assert ep.support.shape == (6,) and ep.query.shape == (9,)
        assert set(ep.support.tolist()).isdisjoint(ep.query.tolist())
        assert torch.equal(tiny.labels[ep.support], ep.classes[ep.support_labels])
        assert torch.equal(tiny.labels[ep.query], ep.classes[ep.query_labels])
        assert ep.support_labels.tolist() == [0, 0, 1, 1, 2, 2]


def test_sampler_is_seeded_and_leaves_global_state_alone(tiny):
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    a = EpisodicSampler(tiny.labels, 3, 2, 2, seed=7).sample()
    b = EpisodicSampler(tiny.labels, 3, 2, 2, seed=7).sample()
    c = EpisodicSampler(tiny.labels, 3, 2, 2, seed=8).sample()
    assert torch.equal(a.support, b.support) and torch.equal(a.query, b.query)
    assert not (torch.equal(a.support, c.support) and torch.equal(a.query, c.query))
    assert np.array_equal(np.random.get_state()[1], before)


def test_sampler_rejects_impossible_episodes(tiny):
    with pytest.raises(ConfigError, match="at least 13 images"):
        EpisodicSampler(tiny.labels, way=3, shot=5, query=8)  # 12 per class
    with pytest.raises(ConfigError):
        EpisodicSampler(tiny.labels, way=4, shot=1, query=1)  # only 3 classes
    with pytest.raises(ConfigError):
        EpisodicSampler(tiny.labels, way=3, shot=0, query=1)


def test_split_is_patient_disjoint_and_covers_everything(tiny):
    train, test = split_by_group(tiny, test_fraction=0.5, seed=3)
    assert train.patients().isdisjoint(test.patients())
    assert len(train) + len(test) == len(tiny)
    assert all(v > 0 for v in test.class_counts().values())
    assert all(v > 0 for v in train.class_counts().values())
    # Every episode drawn from the test side only touches test patients.
    s = EpisodicSampler(test.labels, 3, 2, 2, episodes=20, seed=0, groups=test.groups)
    for ep in s:
        assert s.groups_of(ep) <= test.patients()


def test_phantom_split_patients_disjoint():
    train, test = load_split(RunConfig(dataset="cxr-phantom", patients=12, slices=2, size=32, spurious=True))
    assert train.patients().isdisjoint(test.patients())
    assert train.meta["cue"] == "class" and test.meta["cue"] == "random"


def test_data_validation():
    with pytest.raises(LoadError):
        FewShotData(torch.zeros(2, 1, 4, 4), torch.zeros(3), torch.zeros(2, 4, 4), ["a", "b"], ["x"])
    with pytest.raises(LoadError):
        FewShotData(torch.zeros(2, 1, 4, 4), torch.tensor([0, 1]), torch.zeros(2, 4, 4), ["a", "b"], ["x"])


# -------------------------------------------------------------------------- protonet
def test_prototypes_are_class_means_and_logits_negative_distances():
    emb = torch.randn(6, 4)
    labels = torch.tensor([1, 0, 1, 2, 0, 2])
    protos = class_prototypes(emb, labels, 3)
    for c in range(3):
        torch.testing.assert_close(protos[c], emb[labels == c].mean(0))
    q = torch.randn(5, 4)
    for metric in ("squared_euclidean", "euclidean", "cosine"):
        net = ProtoNet(build_backbone("conv4", 3, 8), 4, metric=metric)
        manual = torch.stack([torch.stack([
            ((a - b) ** 2).sum() if metric == "squared_euclidean" else
            (a - b).norm() if metric == "euclidean" else
            1 - torch.dot(a, b) / (a.norm() * b.norm()) for b in protos]) for a in q])
        torch.testing.assert_close(-net.logits(q, protos), manual, atol=1e-5, rtol=1e-5)
    with pytest.raises(ConfigError):
        class_prototypes(emb, labels, 4)


def test_pairwise_paired_agrees_with_diagonal():
    a, b = torch.randn(5, 3), torch.randn(5, 3)
    for metric in ("squared_euclidean", "euclidean", "cosine"):
        torch.testing.assert_close(pairwise_distance(a, b, metric, paired=True),
                                   pairwise_distance(a, b, metric).diagonal(), atol=1e-5, rtol=1e-5)


# -------------------------------------------------------------------------- training
def _grads(model, data, episode, **cfg):
    model.zero_grad()
    loss, parts = episode_step(model, data, episode, TrainConfig(way=3, shot=2, query=2, **cfg))
    loss.backward()
    return torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None]), parts


def test_guidance_changes_the_gradient_and_orders_differ(tiny):
    ep = EpisodicSampler(tiny.labels, 3, 2, 2, seed=0).sample()
    model = _small_model()
    g_none, p_none = _grads(model, tiny, ep, guidance="none")
    g_dice, p_dice = _grads(model, tiny, ep, guidance="dice", alpha=1.0, first_order=False)
    g_first, _ = _grads(model, tiny, ep, guidance="dice", alpha=1.0, first_order=True)
    g_rrr, p_rrr = _grads(model, tiny, ep, guidance="rrr", alpha=10.0)
    assert "exp_loss" not in p_none and 0 < p_dice["exp_loss"] <= 1 and p_rrr["exp_loss"] > 0
    assert p_none["proto_loss"] == pytest.approx(p_dice["proto_loss"], rel=1e-5)
    assert (g_dice - g_none).norm() > 1e-3 * g_none.norm()
    assert (g_dice - g_first).norm() > 1e-3 * g_dice.norm()
    assert (g_rrr - g_none).norm() > 1e-6


def test_training_reports_progress_and_lowers_loss(tiny):
    events = []
    model = _small_model()
    res = train_fewshot(model, tiny, TrainConfig(way=3, shot=2, query=2, episodes=25, guidance="dice",
                                                 lr=3e-3, seed=0), progress=events.append)
    assert [e.step for e in events] == list(range(1, 26)) and events[-1].total == 25
    first = np.mean([h["proto_loss"] for h in res.history[:5]])
    last = np.mean([h["proto_loss"] for h in res.history[-5:]])
    assert last < first
    with pytest.raises(ConfigError):
        train_fewshot(model, tiny, TrainConfig(guidance="magic"))


def test_evaluation_statistics(tiny):
    model = _small_model()
    out = evaluate_episodic(model, tiny, way=3, shot=2, query=2, episodes=40, cam_episodes=3,
                            cam_scores=("distance", "log_prob"))
    acc = out["accuracy"]
    assert acc["n"] == 40 and len(out["episode_accuracy"]) == 40
    assert acc["mean"] == pytest.approx(np.mean(out["episode_accuracy"]))
    assert acc["ci95"] == pytest.approx(1.96 * np.std(out["episode_accuracy"], ddof=1) / np.sqrt(40))
    for score in ("distance", "log_prob"):
        al = out["alignment_by_score"][score]
        assert al["dice"]["n"] == 3
        assert 0 <= al["dice"]["mean"] <= 1 and 0 <= al["energy"]["mean"] <= 1
    assert model.training  # mode restored


# ------------------------------------------------------------------------ checkpoints
def test_checkpoint_roundtrip_weights_only(tmp_path, tiny):
    model = _small_model()
    rows = torch.tensor([0, 3, 6, 1, 4, 7])  # two images of each of the 3 classes
    support = tiny.images[rows]
    labels = tiny.labels[rows]
    assert sorted(labels.tolist()) == [0, 0, 1, 1, 2, 2]
    path = save_checkpoint(tmp_path / "fs.pt", model, SMALL, support, labels, tiny.class_names)
    payload = torch.load(path, weights_only=True)
    assert torch.equal(payload["support_images"], support) and payload["class_names"] == tiny.class_names
    loaded, payload = load_checkpoint(path)
    x = tiny.images[10:14]
    model.eval()
    torch.testing.assert_close(loaded(x), model(x))
    assert payload["prototypes"].shape == (3, 16)
    assert not list(tmp_path.glob("*.tmp"))


def test_checkpoint_errors(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(LoadError):
        load_checkpoint(bad)
    with pytest.raises(LoadError):
        load_checkpoint(tmp_path / "missing.pt")
    torch.save({"format": "equiguard-fewshot/1", "model": SMALL, "state_dict": {}}, tmp_path / "empty.pt")
    with pytest.raises(LoadError, match="does not match"):
        load_checkpoint(tmp_path / "empty.pt")


# -------------------------------------------------------------------------- backbones
@pytest.mark.parametrize("name,channels", [("resnet18", 512), ("densenet121", 1024)])
def test_torchvision_backbones_random_init_warns_and_loads_local_weights(tmp_path, name, channels):
    import torchvision

    with pytest.warns(UserWarning, match="random weights"):
        bb = build_backbone(name, in_channels=1)
    feats = bb(torch.rand(1, 1, 64, 64))
    assert feats.shape[:2] == (1, channels)
    ref = getattr(torchvision.models, name)(weights=None)
    torch.save(ref.state_dict(), tmp_path / "w.pt")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no random-init warning with a weights file
        loaded = build_backbone(name, weights_path=tmp_path / "w.pt")
    sd = loaded.state_dict()
    key = "trunk.0.weight" if name == "resnet18" else "trunk.conv0.weight"
    assert torch.equal(sd[key], ref.state_dict()["conv1.weight" if name == "resnet18" else "features.conv0.weight"])
    other = torchvision.models.resnet18(weights=None) if name == "densenet121" else torchvision.models.densenet121(weights=None)
    torch.save(other.state_dict(), tmp_path / "other.pt")
    with pytest.raises(LoadError, match="does not match"):
        build_backbone(name, weights_path=tmp_path / "other.pt")


def test_densenet_cam_layer_is_the_papers():
    with pytest.warns(UserWarning):
        bb = build_backbone("densenet121")
    assert bb.cam_layer is bb.trunk.denseblock4.denselayer16.conv2


def test_prototype_score_target_shared_and_per_row_prototypes_agree():
    from core.fewshot import PrototypeScoreTarget
    from core.fewshot.distances import pairwise_distance

    gen = torch.Generator().manual_seed(0)
    z = torch.randn(6, 4, generator=gen)
    protos = torch.randn(3, 4, generator=gen)
    labels = torch.tensor([0, 1, 2, 2, 1, 0])
    d = pairwise_distance(z, protos, "squared_euclidean")
    for score, expected in (("distance", -d.gather(1, labels[:, None]).squeeze(1)),
                            ("log_prob", torch.log_softmax(-d, 1).gather(1, labels[:, None]).squeeze(1))):
        shared = PrototypeScoreTarget(protos, labels, "squared_euclidean", score)(z)
        per_row = PrototypeScoreTarget(protos.expand(6, -1, -1), labels, "squared_euclidean", score)(z)
        assert torch.allclose(shared, expected, atol=1e-6)
        assert torch.allclose(per_row, expected, atol=1e-6)
    with pytest.raises(ConfigError):
        PrototypeScoreTarget(protos, labels, "squared_euclidean", "logit")
