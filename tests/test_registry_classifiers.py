"""Every model kind as a classifier: few-shot checkpoints, the registry, and which images fit which model."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from core.errors import ConfigError, LoadError
from core.explain import GradCAM
from core.fewshot import (ProtoNet, PrototypeClassifier, build_backbone, class_prototypes, load_fewshot_classifier,
                          model_config, save_checkpoint)
from core.studio.compat import ImageSpec, ModelSpec, check_pair, pairing_problem, prepare_input
from core.studio.registry import checkpoint_files, list_models, load_model, read_entry

CLASSES = ["ring-enhancing", "homogeneous", "speckled"]


def _protonet(name: str = "equivariant", channels: int = 3) -> ProtoNet:
    torch.manual_seed(0)
    net = ProtoNet(build_backbone(name, channels, 8), embed_dim=6).train()
    with torch.no_grad():
        net(torch.rand(6, channels, 32, 32))
    return net.eval()


def _support(channels: int = 3, size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(4)
    return torch.rand(6, channels, size, size, generator=gen), torch.tensor([0, 0, 1, 1, 2, 2])


def _save(path, net: ProtoNet, name: str = "equivariant", channels: int = 3, **overrides):
    images, labels = _support(channels)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(path, net, model_config(net, channels, 8, name), images, labels, CLASSES,
                    extra={"dataset": "brain-phantom", "guidance": "dice"})
    if overrides:
        payload = torch.load(path, weights_only=True)
        payload.update(overrides)
        for key in [k for k, v in overrides.items() if v is None]:
            del payload[key]
        torch.save(payload, path)
    return path


# ------------------------------------------------------------------ PrototypeClassifier
def test_logits_are_negative_distances_to_the_support_prototypes_and_export_matches():
    net = _protonet()
    images, labels = _support()
    clf = PrototypeClassifier.from_support(net, images, labels, CLASSES)
    x = torch.rand(4, 3, 32, 32)
    with torch.no_grad():
        protos = class_prototypes(net(images), labels, 3)
        expected = -((net(x)[:, None] - protos[None]) ** 2).sum(-1)
        logits = clf(x)
        torch.testing.assert_close(logits, expected, atol=1e-5, rtol=1e-5)
        assert torch.equal(logits.argmax(1), net.classify(images, labels, x))
        exported = clf.export()
        torch.testing.assert_close(exported(x), logits, atol=1e-5, rtol=1e-5)
    assert clf.class_names == CLASSES and clf.num_classes == 3 and (clf.in_channels, clf.image_size) == (3, 32)
    assert exported.exported and not any(type(m).__module__.startswith("e2cnn") for m in exported.modules())
    # The prototypes are constants: no gradient reaches them through the logits.
    assert not clf.prototypes.requires_grad


def test_classes_without_support_images_are_left_out():
    net = _protonet()
    images, _ = _support()
    clf = PrototypeClassifier.from_support(net, images, torch.tensor([0, 0, 0, 2, 2, 2]), CLASSES)
    assert clf.class_names == ["ring-enhancing", "speckled"] and clf(torch.rand(1, 3, 32, 32)).shape == (1, 2)
    with pytest.raises(ConfigError):
        PrototypeClassifier.from_support(net, images, torch.tensor([0, 0, 0, 0, 0, 0]), CLASSES)


def test_grad_cam_and_attacks_treat_it_like_any_classifier():
    from pytorch_grad_cam import GradCAM as TheirGradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    import torchattacks

    from core.attacks import PGD

    clf = PrototypeClassifier.from_support(_protonet("conv4"), *_support(), CLASSES).export()
    x = torch.rand(3, 3, 32, 32, generator=torch.Generator().manual_seed(7))
    classes = torch.tensor([0, 2, 1])
    with GradCAM(clf, clf.cam_layer) as cam:
        ours = cam(x, classes).detach().numpy()
    with TheirGradCAM(model=clf, target_layers=[clf.cam_layer]) as ref:
        theirs = ref(input_tensor=x, targets=[ClassifierOutputTarget(int(k)) for k in classes])
    np.testing.assert_allclose(ours, theirs, atol=2e-4)
    y = clf(x).argmax(1)
    eps = 4 / 255
    ours = PGD(clf, eps, alpha=1 / 255, steps=10, random_start=False)(x, y)
    theirs = torchattacks.PGD(clf, eps=eps, alpha=1 / 255, steps=10, random_start=False)(x, y)
    assert float((ours - x).abs().max()) <= eps + 1e-6 and float(ours.min()) >= 0 and float(ours.max()) <= 1
    assert float((ours - x).abs().max()) > eps / 2  # the attack moved the image
    assert float((ours - theirs).abs().gt(1e-5).float().mean()) < 1e-3  # same update rule as the peer


def test_load_from_checkpoint_and_clear_errors(tmp_path):
    net = _protonet()
    path = _save(tmp_path / "ok.pt", net)
    clf, payload = load_fewshot_classifier(path)
    assert clf.class_names == CLASSES and payload["extra"]["dataset"] == "brain-phantom"
    with pytest.raises(LoadError, match="without a support set"):
        load_fewshot_classifier(_save(tmp_path / "bare.pt", net, support_images=None, support_labels=None))
    with pytest.raises(LoadError, match="do not match"):
        load_fewshot_classifier(_save(tmp_path / "tampered.pt", net, prototypes=torch.zeros(3, 6)))


# --------------------------------------------------------------------------- registry
def test_registry_lists_both_kinds_with_class_names(workspace, tmp_path):
    from core.training import save_checkpoint as save_classifier
    from core.models import ModelConfig, build_model

    net = _protonet()
    _save(workspace.checkpoints / "fewshot" / "cli-run" / "checkpoint.pt", net)
    studio_run = workspace.reports / "fewshot" / "demo" / "dice" / "checkpoint.pt"
    _save(studio_run, _protonet("conv4", 1), name="conv4", channels=1)
    (studio_run.parent / "metrics.json").write_text(json.dumps({"accuracy": {"mean": 0.75, "ci95": 0.02},
                                                                "episode_accuracy": [0.5, 1.0]}))
    _save(workspace.checkpoints / "fewshot" / "bare" / "checkpoint.pt", net, support_images=None)
    model = build_model(ModelConfig(arch="cascaded", in_channels=3, num_classes=3, image_size=32,
                                    mean=(0.5,) * 3, std=(0.5,) * 3))
    save_classifier(workspace.checkpoints / "cascaded-brain" / "model.pt", model, {"test_acc": 0.5},
                    {"dataset": "brain-phantom:size=32", "split_seed": 0, "classes": CLASSES})
    assert len(checkpoint_files(workspace)) == 4
    entries = {e.name: e for e in list_models(workspace)}
    assert set(entries) == {"fewshot/cli-run", "fewshot/demo/dice", "fewshot/bare", "cascaded-brain"}
    bare = entries.pop("fewshot/bare")
    assert bare.error and "without a support set" in bare.error and "\n" not in bare.error
    for entry in entries.values():
        assert entry.error is None and entry.class_names == CLASSES
        clf = load_model(entry)
        x = torch.rand(2, entry.spec.channels, entry.spec.size, entry.spec.size)
        assert clf(x).shape == (2, 3) and not clf.training and clf.cam_layer is not None
    studio = entries["fewshot/demo/dice"]
    assert studio.kind == "fewshot" and studio.arch == "protonet/conv4" and studio.accuracy == 0.75
    assert "episode_accuracy" not in studio.metrics and "acc 0.750" in studio.label
    assert studio.spec == ModelSpec(1, 32, tuple(CLASSES), "brain-phantom")
    cascaded = entries["cascaded-brain"]
    assert cascaded.kind == "classifier" and cascaded.dataset == "brain-phantom:size=32"
    assert cascaded.spec.describe() == "3-channel 32×32 brain-phantom images"
    # A checkpoint outside any workspace (a CLI argument) is named after its run folder.
    elsewhere = read_entry(_save(tmp_path / "runs" / "guided" / "checkpoint.pt", net))
    assert elsewhere.name == "guided" and elsewhere.kind == "fewshot" and elsewhere.error is None


# ------------------------------------------------------------------------ compatibility
def test_pairing_messages():
    brain = ModelSpec(3, 64, tuple(CLASSES), "brain-phantom")
    ct = ImageSpec(1, 512, 512, kind="CT slice")
    assert pairing_problem(brain, ct) == ("this model expects 3-channel 64×64 brain-phantom images; "
                                          "the image is a 1-channel 512×512 CT slice")
    with pytest.raises(ConfigError, match="expects 3-channel 64×64"):
        check_pair(brain, ct)
    assert pairing_problem(brain, ImageSpec(3, 64, 64, "brain-phantom", class_name="speckled")) is None
    assert pairing_problem(brain, ImageSpec(3, 32, 32, "brain-phantom")) is not None  # size
    assert "labelled 'Nodule/Mass'" in pairing_problem(brain, ImageSpec(3, 64, 64, class_name="Nodule/Mass"))
    digits = ModelSpec(1, 32, tuple(str(i) for i in range(10)), "digits")
    # A 1-channel 32x32 CXR phantom fits digits' shape but not its source: never a digits model on a chest.
    assert "digits images" in pairing_problem(digits, ImageSpec(1, 32, 32, "cxr-phantom"))
    assert pairing_problem(digits, ImageSpec(1, 32, 32, "digits", class_name="7")) is None
    store = ModelSpec(1, 128, ("Nodule/Mass", "Lung Opacity"), "store:size=128")
    assert store.describe() == "1-channel store images (any size, resized to 128×128)"
    assert pairing_problem(store, ImageSpec(1, 512, 480, "vindr", class_name="Nodule/Mass")) is None
    assert pairing_problem(store, ImageSpec(1, 512, 480, "cxr-phantom")) is not None
    assert pairing_problem(store, ImageSpec(3, 512, 512, "store")) is not None


def test_prepare_input_resizes_like_the_loader_and_keeps_the_roi_aligned():
    store = ModelSpec(1, 64, ("a", "b"), "store")
    pixels = np.zeros((100, 50), np.float32)
    pixels[40:60, 10:20] = 1.0
    roi = pixels > 0.5
    x, m = prepare_input(pixels, store, roi=roi)
    assert x.shape == (1, 1, 64, 64) and m.shape == (64, 64) and m.dtype == torch.bool
    # Padded to a 100x100 square (25 columns each side), then halved-ish: the block stays where the ROI is.
    inside = x[0, 0][m]
    assert float(inside.mean()) > 0.9 and float(x[0, 0][~m].mean()) < 0.05
    brain = ModelSpec(3, 32, tuple(CLASSES), "brain-phantom")
    rgb = np.random.default_rng(0).random((32, 32, 3)).astype(np.float32)
    x, m = prepare_input(rgb, brain, ImageSpec.of(rgb, dataset="brain-phantom"))
    assert m is None and torch.allclose(x[0].permute(1, 2, 0), torch.from_numpy(rgb))
    with pytest.raises(ConfigError, match="expects"):
        prepare_input(pixels, brain)
    with pytest.raises(ConfigError, match="ROI"):
        prepare_input(pixels, store, roi=np.zeros((3, 3), bool))
