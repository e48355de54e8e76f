"""Medical images as classification datasets (patient-level splits) and ``train`` on them."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from core.cli import main
from core.datasets import (MedicalOptions, load_dataset, load_medical_splits, make_phantom, make_spec,
                           parse_spec)
from core.errors import ConfigError
from core.fewshot.datasets._canvas import CORNERS

SMALL = "brain-phantom:size=32,patients=12,slices=2"


def test_phantom_splits_are_patient_disjoint_and_keep_class_names():
    train, val, test = load_medical_splits(SMALL, split_seed=1)
    assert [d.split for d in (train, val, test)] == ["train", "val", "test"]
    patients = [d.patients() for d in (train, val, test)]
    assert not (patients[0] & patients[1] or patients[0] & patients[2] or patients[1] & patients[2])
    for d in (train, val, test):
        assert d.classes == ["ring-enhancing", "homogeneous", "speckled"] and d.num_classes == 3
        assert d.images.shape[1:] == (3, 32, 32) and d.masks.shape == (len(d), 32, 32) and d.masks.any()
        assert set(d.labels.tolist()) == {0, 1, 2} and d.name == SMALL
        x, y = d[0]
        assert x.shape == (3, 32, 32) and isinstance(y, int)
    # 12 patients x 2 slices: 30% (4) generated as test patients, a validation patient per class from the rest.
    assert (len(train), len(val), len(test)) == (10, 6, 8) and len(patients[2]) == 4
    again = load_dataset(SMALL, "train", split_seed=1)
    assert again.fingerprint() == train.fingerprint() and torch.equal(again.images, train.images)
    assert load_dataset(SMALL, "train", split_seed=2).fingerprint() != train.fingerprint()
    assert load_dataset(SMALL + ",spurious=1", "train", split_seed=1).fingerprint() != train.fingerprint()
    assert train.describe()["patients"] == len(patients[0]) and train.describe()["synthetic"] is True


def test_spec_round_trip_and_errors():
    base, options = parse_spec("cxr-phantom:spurious=yes,size=128, patients=24")
    assert base == "cxr-phantom" and options == MedicalOptions(size=128, patients=24, spurious=True)
    assert make_spec(base, options) == "cxr-phantom:size=128,patients=24,spurious=1"
    assert make_spec("store") == "store" and parse_spec(make_spec(base, options)) == (base, options)
    for bad in ("mri", "brain-phantom:size", "brain-phantom:colour=red", "brain-phantom:size=big",
                "brain-phantom:test=1.5", "vindr:merge=any"):
        with pytest.raises(ConfigError):
            parse_spec(bad)
    with pytest.raises(ConfigError, match="phantom"):
        load_dataset("store:spurious=1", "train")
    with pytest.raises(ConfigError, match="data folder"):
        load_dataset("brats", "train")


def _corner_of_marker(image: torch.Tensor) -> int:
    """Which corner holds the saturated square marker (-1 if none)."""
    h = image.shape[-1]
    size, margin = max(3, h // 12), max(1, h // 32)
    for k, (fy, fx) in enumerate(CORNERS):
        y0 = margin if fy == 0 else h - margin - size
        x0 = margin if fx == 0 else h - margin - size
        if bool((image[:, y0:y0 + size, x0:x0 + size] == 1.0).all()):
            return k
    return -1


def test_spurious_cue_tied_to_class_in_training_random_in_test():
    train, val, test = load_medical_splits(SMALL + ",spurious=1")
    for d in (train, val):
        assert [_corner_of_marker(x) for x in d.images] == d.labels.tolist()
    corners = [_corner_of_marker(x) for x in test.images]
    assert min(corners) >= 0 and corners != test.labels.tolist()
    clean = make_phantom("cxr-phantom", 3, 1, 32, seed=0, cue="none", prefix="p")
    assert [_corner_of_marker(x) for x in clean.images] == [-1, -1, -1] and clean.groups[0] == "p-0000"


def test_brats_folder_split_by_case(tmp_path):
    from test_medical_datasets import _case

    for i in range(5):
        _case(tmp_path, f"P{i:03d}", 4)
    train, val, test = load_medical_splits("brats:size=24", tmp_path)
    assert (len(train.patients()), len(val.patients()), len(test.patients())) == (2, 1, 2)
    assert not (train.patients() & test.patients()) and train.in_channels == 3 and train.image_size == 24
    assert train.classes[1] == "oedema (2)" and not train.synthetic


def _train(workspace, *argv: str) -> int:
    return main(["--workspace", str(workspace.root), "train", "--epochs", "1", "--threads", "1",
                 "--batch-size", "16", *argv])


@pytest.mark.parametrize("arch", ["baseline", "parallel_rot", "parallel_scale", "parallel_rot_scale", "cascaded",
                                  "equivariant"])
def test_train_each_architecture_on_a_phantom(workspace, arch, capsys):
    out = workspace.checkpoints / arch
    code = _train(workspace, "--model", arch, "--dataset", "cxr-phantom", "--size", "32", "--patients", "12",
                  "--slices", "2", "--out", str(out))
    assert code == 0, capsys.readouterr().err
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["dataset"] == "cxr-phantom:size=32,patients=12,slices=2" and 0 <= metrics["test_acc"] <= 1
    from core.training import load_checkpoint

    ckpt = load_checkpoint(out / "model.pt")
    assert ckpt.split["classes"] == ["Nodule/Mass", "Pulmonary fibrosis", "Lung Opacity"]
    assert ckpt.config.in_channels == 1 and ckpt.config.image_size == 32 and ckpt.config.num_classes == 3
    train = load_dataset(metrics["dataset"], "train")
    assert ckpt.split["train"]["fingerprint"] == train.fingerprint()


def test_attack_command_rebuilds_the_recorded_split(workspace, tmp_path, capsys):
    out = workspace.checkpoints / "eq"
    assert _train(workspace, "--model", "equivariant", "--dataset", "brain-phantom", "--size", "32",
                  "--patients", "12", "--slices", "2", "--spurious", "--out", str(out)) == 0
    spec = json.loads((out / "metrics.json").read_text())["dataset"]
    assert spec == "brain-phantom:size=32,patients=12,slices=2,spurious=1"
    report = tmp_path / "attack.json"
    assert main(["--workspace", str(workspace.root), "attack", "--checkpoint", str(out / "model.pt"),
                 "--dataset", spec, "--eps", "0,2/255", "--n-images", "8", "--out", str(report)]) == 0
    result = json.loads(report.read_text())
    assert result["n_images"] == 8 and result["curve"]["mean"][1] <= result["curve"]["mean"][0]
    from core.studio.registry import list_models

    (entry,) = [e for e in list_models(workspace) if e.name == "eq"]
    assert entry.class_names == ["ring-enhancing", "homogeneous", "speckled"] and entry.spec.size == 32
    capsys.readouterr()


def test_medical_options_are_refused_elsewhere(workspace, capsys):
    assert _train(workspace, "--model", "baseline", "--dataset", "digits", "--size", "64") == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --size only apply to the medical datasets") and "Traceback" not in err
    assert _train(workspace, "--model", "baseline", "--dataset", "vindr") == 2
    assert "--data-root" in capsys.readouterr().err
    assert _train(workspace, "--model", "baseline", "--dataset", "brain-phantom", "--patients", "2") == 2
    assert "patients >= 6" in capsys.readouterr().err


def test_store_dataset_reads_the_workspace(workspace):
    import hashlib

    from PIL import Image

    from core.store import AnnotationStore

    store = AnnotationStore(workspace)
    rng = np.random.default_rng(0)
    for i in range(8):
        path = workspace.root / f"img{i}.png"
        Image.fromarray((rng.random((40, 30)) * 255).astype(np.uint8)).save(path)
        image_id = store.add_image(hashlib.sha256(path.read_bytes()).hexdigest(), str(path), shape=(40, 30))
        store.set_image_label(image_id, "lesion" if i % 2 else "normal", "tester")
    train, val, test = load_medical_splits("store:size=16", workspace.root)
    assert train.classes == ["lesion", "normal"] and train.images.shape[1:] == (1, 16, 16)
    assert len(train) + len(val) + len(test) == 8 and not (train.patients() & test.patients())
