"""Phantoms: deterministic, exact masks, lesion inside the anatomy, spurious cue behaviour."""

from __future__ import annotations

import pytest
import torch

import numpy as np

from core.errors import ConfigError
from core.fewshot.datasets import CUE_KINDS, brain_phantom, cxr_phantom
from core.fewshot.datasets._canvas import CORNERS
from core.fewshot.datasets._cues import apply_cue


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
    with pytest.raises(ConfigError, match="cue kind"):
        brain_phantom(cue="class", cue_kind="watermark")
    with pytest.raises(ConfigError):
        cxr_phantom(size=8)


# ---------------------------------------------------------------- cue kinds
def _gradient_angle(cue_img: torch.Tensor, plain: torch.Tensor) -> float:
    """Direction (degrees) of the multiplicative ramp: least squares of cue/plain - 1 on (x, y)."""
    size = plain.shape[-1]
    c = (np.arange(size) + 0.5) / size * 2 - 1
    y, x = np.meshgrid(c, c, indexing="ij")
    a, b = plain.numpy(), cue_img.numpy()
    keep = (a > 0.15) & (b < 0.999)
    gain = (b[keep] / a[keep]) - 1
    coords = np.stack([np.broadcast_to(x, a.shape)[keep], np.broadcast_to(y, a.shape)[keep]], 1)
    gx, gy = np.linalg.lstsq(coords, gain, rcond=None)[0]
    return float(np.degrees(np.arctan2(gy, gx)) % 360)


def _stripe_angle(cue_img: torch.Tensor, plain: torch.Tensor) -> float:
    """Orientation (degrees, mod 180) of the stripes' wave vector from the spectrum peak of the difference."""
    diff = (cue_img - plain).numpy().mean(0)
    spec = np.abs(np.fft.fft2(diff - diff.mean()))
    spec[0, 0] = 0
    ky, kx = np.unravel_index(spec.argmax(), spec.shape)
    n = diff.shape[0]
    fy, fx = (ky if ky <= n // 2 else ky - n), (kx if kx <= n // 2 else kx - n)
    return float(np.degrees(np.arctan2(fy, fx)) % 180)


def _level(kind: str, cue_img: torch.Tensor, plain: torch.Tensor) -> int:
    """The cue level an image shows, read from its pixels (-1: no cue)."""
    if kind == "corner":
        return _marker_corner(cue_img)
    if torch.equal(cue_img, plain):
        return -1
    if kind == "gradient":
        angle, step = _gradient_angle(cue_img, plain), 120.0
    else:
        angle, step = _stripe_angle(cue_img, plain), 60.0
    level = int(round(angle / step)) % 3
    assert abs((angle - level * step + 90) % 180 - 90) < 12, (kind, angle)  # close to a level's direction
    return level


@pytest.mark.parametrize("kind", CUE_KINDS)
@pytest.mark.parametrize("make", MAKERS)
def test_every_cue_kind_follows_the_class_in_training_and_is_random_in_test(make, kind):
    plain = make(n_patients=30, images_per_patient=2, size=64, seed=2)
    tied = make(n_patients=30, images_per_patient=2, size=64, seed=2, cue="class", cue_kind=kind)
    rnd = make(n_patients=30, images_per_patient=2, size=64, seed=2, cue="random", cue_kind=kind)
    tied_levels = torch.tensor([_level(kind, a, b) for a, b in zip(tied.images, plain.images)])
    rnd_levels = torch.tensor([_level(kind, a, b) for a, b in zip(rnd.images, plain.images)])
    assert torch.equal(tied_levels, tied.labels)
    assert bool((rnd_levels >= 0).all())
    assert 0.15 < float((rnd_levels == rnd.labels).float().mean()) < 0.6  # chance is 1/3
    # One level per patient: the cue is a property of the patient (what patient-disjoint episodes stop leaking).
    for g in rnd.patients():
        rows = [i for i, x in enumerate(rnd.groups) if x == g]
        assert len(set(rnd_levels[rows].tolist())) == 1


@pytest.mark.parametrize("kind", CUE_KINDS)
@pytest.mark.parametrize("make", MAKERS)
def test_cue_is_drawn_on_the_unchanged_cue_free_image(make, kind):
    """Same seed: anatomy, lesion and ROI do not depend on the cue; the cue image is the plain one plus the cue."""
    plain = make(n_patients=6, images_per_patient=2, size=48, seed=4)
    for tie in ("class", "random"):
        cued = make(n_patients=6, images_per_patient=2, size=48, seed=4, cue=tie, cue_kind=kind)
        assert torch.equal(cued.masks, plain.masks) and torch.equal(cued.labels, plain.labels)
        for i in range(len(plain)):
            candidates = [apply_cue(plain.images[i].numpy(), kind, k, plain.masks[i].numpy()) for k in range(3)]
            assert any(np.allclose(cued.images[i].numpy(), c, atol=1e-6) for c in candidates)
            if kind != "gradient":  # local and textural cues never touch the expert ROI
                roi = plain.masks[i]
                assert torch.equal(cued.images[i][:, roi], plain.images[i][:, roi])
    # The cue-free images are the same whatever cue kind is asked for.
    assert torch.equal(make(n_patients=6, images_per_patient=2, size=48, seed=4, cue_kind=kind).images, plain.images)
