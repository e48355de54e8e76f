"""The demo workspace: offline sample data, exact phantom ROIs, idempotent, job command lines valid."""

from __future__ import annotations

import numpy as np

from conftest import run_cli

from core.cli import build_parser
from core.demo import (DEMO_ANNOTATOR, DEMO_PHANTOM_ARCH, DEMO_PHANTOM_PATIENTS, N_PHANTOMS_PER_CLASS, PHANTOM_SIZE,
                       build_demo, demo_jobs)
from core.io import load_image
from core.store import AnnotationStore
from core.studio.planes import plane_of, render_plane


def test_demo_cli_fills_workspace_once(workspace):
    first = run_cli("--workspace", str(workspace.root), "demo", "--no-train", timeout=120)
    assert first.returncode == 0, first.stderr
    store = AnnotationStore(workspace)
    images = store.list_images()
    rois = store.list_rois()
    assert len(rois) == 2 * 3 * N_PHANTOMS_PER_CLASS  # brain + CXR phantoms, every class
    again = build_demo(workspace, train=False)
    assert again.rois == 0 and again.images == len(images)
    assert [i.id for i in store.list_images()] == [i.id for i in images]
    assert len(store.list_rois(include_deleted=True)) == len(rois)
    skipped = build_demo(workspace, train=True, if_empty=True)
    assert skipped.skipped and "already holds images" in skipped.describe()
    assert store.list_jobs() == []  # --if-empty on a filled workspace starts nothing


def test_demo_planes_load_and_phantom_rois_are_exact(studio_workspace):
    from core.fewshot import brain_phantom, cxr_phantom

    store = AnnotationStore(studio_workspace)  # built by build_demo(train=False) in conftest
    names = {}
    for rec in store.list_images():
        image = load_image(rec.source_path)
        assert render_plane(image, plane_of(rec)).shape[:2] == rec.shape
        names[rec.display_name] = rec
    assert {"CT_small.dcm", "MR_small.dcm", "anatomical.nii"} <= set(names)
    assert names["anatomical.nii"].axis == "axial"
    expected = {"brain": brain_phantom(n_patients=3 * N_PHANTOMS_PER_CLASS, images_per_patient=1, seed=7),
                "cxr": cxr_phantom(n_patients=3 * N_PHANTOMS_PER_CLASS, images_per_patient=1, seed=7)}
    for tag, data in expected.items():
        for i in range(len(data)):
            rec = names[f"{tag}-phantom-{i:02d}.png"]
            roi = next(r for r in store.list_rois(rec.id) if r.annotator == DEMO_ANNOTATOR)
            assert roi.label == data.class_names[int(data.labels[i])]
            assert np.array_equal(roi.mask, data.masks[i].numpy())
            assert roi.geometry["dataset"] == f"{tag}-phantom"  # what the Attack lab pairs models with
            assert store.get_image_label(rec.id).label == roi.label
    digit_labels = sorted(store.get_image_label(r.id).label for n, r in names.items() if n.startswith("digit-"))
    assert digit_labels == [str(d) for d in range(10)]


def test_demo_job_command_lines_parse(workspace):
    parser = build_parser()
    runs = demo_jobs(workspace)
    assert sorted({argv[0] for _, argv in runs}) == ["fewshot", "train"]
    parsed = []
    for _, argv in runs:
        args = parser.parse_args(["--workspace", str(workspace.root), *argv])
        assert callable(args._run)
        parsed.append(args)
    # What the Attack lab opens on comes first: guided and unguided few-shot, then a symmetry-aware
    # classifier, all on the brain phantom at the size of the demo's phantom images.
    fewshot, phantom = parsed[:2], parsed[2]
    assert sorted(a.guidance for a in fewshot) == ["dice", "none"]
    assert all(a.dataset == "brain-phantom" for a in fewshot)
    assert (phantom.model, phantom.dataset, phantom.size, phantom.patients) == (
        DEMO_PHANTOM_ARCH, "brain-phantom", PHANTOM_SIZE, DEMO_PHANTOM_PATIENTS)
    assert DEMO_PHANTOM_ARCH != "baseline"


def test_demo_phantoms_pair_with_brain_phantom_models(studio_workspace):
    from core.studio.compat import ModelSpec, pairing_problem
    from core.studio.image_sources import list_sources, load_source

    brain = ModelSpec(3, PHANTOM_SIZE, ("ring-enhancing", "homogeneous", "speckled"), "brain-phantom")
    sources = list_sources(studio_workspace)
    with_roi = [s for s in sources if s.has_roi]
    assert with_roi and sources[:len(with_roi)] == with_roi  # ROI images are listed first
    # Other tests of the session may add ROIs to the real images (those count as "store" data).
    images = {s.title.split(" ")[0]: load_source(studio_workspace, s) for s in with_roi}
    phantoms = {name: image for name, image in images.items() if "-phantom-" in name}
    assert len(phantoms) == 2 * 3 * N_PHANTOMS_PER_CLASS
    for name, image in images.items():
        assert image.dataset == (name.split("-")[0] + "-phantom" if name in phantoms else "store")
        assert (pairing_problem(brain, image.spec) is None) == name.startswith("brain-phantom")
