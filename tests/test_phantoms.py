"""Phantoms: deterministic, exact masks, lesion inside the anatomy, spurious cue behaviour."""

from __future__ import annotations

import pytest
import torch

from core.errors import ConfigError
from core.fewshot.datasets import brain_phantom, cxr_phantom
from core.fewshot.datasets._canvas import CORNERS


MAKERS = [brain_phantom, cxr_phantom]


@pytest.mark.parametrize("make", MAKERS)
def test_deterministic_and_well_formed(make):
    a = make(n_patients=6, images_per_patient=2, size=48, seed=3)
    b = make(n_patients=6, images_per_patient=2, size=48, seed=3)
    c = make(n_patients=6, images_per_patient=2, size=48, seed=4)
    assert torch.equal(a.images, b.images) and torch.equal(a.masks, b.masks)
    assert not torch.equal(a.images, c.images)
    assert a.images.dtype == torch.float32 and a.images.shape[0] == 12
    assert float(a.images.min()) >= 0 and float(a.images.max()) <= 1
    # Every image has a non-empty ROI; every patient has one class; classes balanced.
    assert bool(a.masks.flatten(1).any(1).all())
    for g in a.patients():
        rows = [i for i, x in enumerate(a.groups) if x == g]
        assert len(set(a.labels[rows].tolist())) == 1
    assert sorted(a.class_counts().values()) == [4, 4, 4]


@pytest.mark.parametrize("make", MAKERS)
def test_lesion_changes_pixels_only_inside_roi(make):
    """The finding is drawn inside its mask: pixels outside are the same anatomy+noise in
    expectation, so the mean absolute contrast inside the ROI must exceed the outside one."""
    d = make(n_patients=6, images_per_patient=2, size=64, seed=1)
    # Channel where every kind is hyperintense: FLAIR-like (brain), the only one (CXR).
    chan = d.images[:, min(1, d.images.shape[1] - 1)]
    m = d.masks.float()
    inside = float((chan * m).sum() / m.sum())
    # The same pixel positions in the other images, where those have no finding:
    # the anatomy is laid out alike, so this is the lesion-free background.
    cover = m.sum(0)
    background = float(((chan * (1 - m)) * cover).sum() / ((1 - m) * cover).sum())
    assert inside > background + 0.08, (inside, background)


def _marker_corner(img: torch.Tensor) -> int:
    h = img.shape[-1]
    m = max(1, h // 32)
    scores = []
    for fy, fx in CORNERS:
        y = m if fy == 0 else h - m - 2
        x = m if fx == 0 else h - m - 2
        scores.append(float(img[:, y:y + 2, x:x + 2].min()))
    return max(range(4), key=lambda k: scores[k]) if max(scores) >= 0.999 else -1


@pytest.mark.parametrize("make", MAKERS)
def test_spurious_cue_follows_class_only_when_asked(make):
    cls = make(n_patients=9, images_per_patient=2, size=48, seed=0, cue="class")
    corners = torch.tensor([_marker_corner(im) for im in cls.images])
    assert torch.equal(corners, cls.labels)
    rnd = make(n_patients=30, images_per_patient=1, size=48, seed=0, cue="random")
    corners = torch.tensor([_marker_corner(im) for im in rnd.images])
    assert bool((corners >= 0).all())
    assert float((corners == rnd.labels).float().mean()) < 0.7  # not tied to the class
    none = make(n_patients=3, images_per_patient=1, size=48, seed=0)
    assert all(_marker_corner(im) == -1 for im in none.images)
    # The marker corners lie outside every ROI.
    assert not bool(cls.masks[:, :8, :8].any() | cls.masks[:, :8, -8:].any() | cls.masks[:, -8:, :8].any())


def test_bad_options():
    with pytest.raises(ConfigError):
        brain_phantom(cue="sometimes")
    with pytest.raises(ConfigError):
        cxr_phantom(size=8)
