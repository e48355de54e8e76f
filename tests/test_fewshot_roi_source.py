"""Few-shot training on the store chooses whose ROIs guide it (--roi-source), and says so in its record."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import run_cli
from core.agreement import source_mask
from core.errors import ConfigError
from core.fewshot import RunConfig
from core.fewshot.datasets.store import store_dataset
from core.store import AnnotationStore
from core.studio.commands import fewshot_argv

SIDE = 32


def disc(cy, cx, r):
    yy, xx = np.mgrid[:SIDE, :SIDE]
    return (yy - cy) ** 2 + (xx - cx) ** 2 < r * r


@pytest.fixture
def readers_workspace(workspace):
    """12 PNG images (two classes, one patient each), outlined by R1 and R2, some also by the adjudicator."""
    store = AnnotationStore(workspace)
    rng = np.random.default_rng(0)
    folder = workspace.root / "images"
    folder.mkdir(parents=True, exist_ok=True)
    plan = {}
    for k in range(12):
        pixels = np.uint8(rng.integers(0, 60, (SIDE, SIDE)) + 100 * disc(16, 16, 6 + k % 2 * 4))
        path = folder / f"img{k:02d}.png"
        buf = io.BytesIO()
        Image.fromarray(pixels).save(buf, format="PNG")
        path.write_bytes(buf.getvalue())
        image = store.add_image_file(path, shape=(SIDE, SIDE), display_name=path.name)
        masks = {"R1": disc(16, 15, 7), "R2": disc(16, 18, 7)}
        if k % 3 == 0:
            masks["Adj"] = disc(10, 10, 4)
        for reader, mask in masks.items():
            store.add_roi(image, "lesion", mask, annotator=reader)
        store.set_image_label(image, "small" if k % 2 == 0 else "large", "R1")
        plan[image] = masks
    store.register_reader("Adj", "adjudicator")
    return workspace, store, plan


@pytest.mark.parametrize("source", ["union", "majority", "staple", "consensus", "reader:R2", "reader:nobody"])
def test_store_dataset_rois_follow_the_source(readers_workspace, source):
    workspace, store, plan = readers_workspace
    data = store_dataset(workspace, size=SIDE, roi_source=source)
    assert data.meta["roi_source"] == source and len(data) == 12
    roles = store.reader_roles()
    for k, image in enumerate(sorted(plan)):
        expected = source_mask(plan[image], source, (SIDE, SIDE), roles)
        assert torch.equal(data.masks[k], torch.from_numpy(expected)), (source, k)
    if source == "reader:nobody":
        assert data.meta["images_without_roi"] == 12
    if source == "consensus":  # adjudicated images take the adjudicator's ROI
        assert torch.equal(data.masks[0], torch.from_numpy(disc(10, 10, 4)))


def test_run_config_checks_the_source():
    assert RunConfig(dataset="store", roi_source=" reader:Dr A ").roi_source == "reader:Dr A"
    with pytest.raises(ConfigError, match="unknown ROI source"):
        RunConfig(dataset="store", roi_source="best")
    with pytest.raises(ConfigError, match="store dataset"):
        RunConfig(dataset="brain-phantom", roi_source="staple")


def test_cli_run_records_the_roi_source(readers_workspace, tmp_path, capsys):
    from core.cli import main

    workspace, _, _ = readers_workspace
    out = tmp_path / "run"
    argv = ["--workspace", str(workspace.root), "fewshot", "--dataset", "store", "--roi-source", "reader:R2",
            "--way", "2", "--shot", "1", "--query", "1", "--episodes", "2", "--eval-episodes", "2",
            "--cam-episodes", "1", "--size", str(SIDE), "--hidden", "8", "--embed-dim", "8", "--out", str(out)]
    done = run_cli(*argv)
    assert done.returncode == 0, done.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["config"]["roi_source"] == "reader:R2"
    payload = torch.load(out / "checkpoint.pt", weights_only=True)
    assert payload["extra"]["roi_source"] == "reader:R2"
    capsys.readouterr()
    assert main([a if a != "reader:R2" else "reader:" for a in argv]) == 2
    err = capsys.readouterr().err
    assert err.strip().count("\n") == 0 and "reader name" in err


def test_studio_command_line_passes_the_source(workspace):
    from core.cli import build_parser

    argv = fewshot_argv(workspace, data="store", roi_source="staple")
    args = build_parser().parse_args(argv)
    assert args.roi_source == "staple"
    assert "--roi-source" not in fewshot_argv(workspace, data="brain-phantom")
