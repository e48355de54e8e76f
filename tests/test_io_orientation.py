"""Canonical reorientation is exactly invertible for every axis permutation and flip."""

from __future__ import annotations

import itertools

import nibabel as nib
import numpy as np
import pytest

from core.errors import ConfigError
from core.io.orientation import AXES, canonicalize, display_slice, place_slice, to_source_order

ORIENTATIONS = [(perm, flips) for perm in itertools.permutations(range(3))
                for flips in itertools.product((1, -1), repeat=3)]


def _affine(perm, flips) -> np.ndarray:
    affine = np.eye(4)
    affine[:3, :3] = 0
    for src_axis, (world_axis, flip) in enumerate(zip(perm, flips)):
        affine[world_axis, src_axis] = flip * (1.0 + 0.5 * src_axis)
    affine[:3, 3] = [5.0, -7.0, 11.0]
    return affine


@pytest.mark.parametrize("perm, flips", ORIENTATIONS)
def test_canonical_round_trip(perm, flips):
    rng = np.random.default_rng(0)
    data = rng.normal(size=(3, 4, 5))
    affine = _affine(perm, flips)
    canonical, canonical_affine, ornt = canonicalize(data, affine)
    assert nib.aff2axcodes(canonical_affine) == ("R", "A", "S")
    reference = nib.as_closest_canonical(nib.Nifti1Image(data, affine))
    np.testing.assert_array_equal(canonical, reference.get_fdata())
    np.testing.assert_allclose(canonical_affine, reference.affine)
    np.testing.assert_array_equal(to_source_order(canonical, ornt), data)
    # Same voxel, same world position, before and after.
    ijk = np.array([2, 1, 3, 1])
    world = affine @ ijk
    c_ijk = np.rint(np.linalg.inv(canonical_affine) @ world).astype(int)
    assert canonical[tuple(c_ijk[:3])] == data[tuple(ijk[:3])]


@pytest.mark.parametrize("axis", AXES)
def test_place_slice_is_the_inverse_of_display_slice(axis):
    rng = np.random.default_rng(1)
    volume = np.zeros((4, 5, 6), bool)
    shape = display_slice(volume, 0, axis).shape
    mask = rng.random(shape) > 0.5
    place_slice(volume, mask, 2, axis)
    np.testing.assert_array_equal(display_slice(volume, 2, axis), mask)
    assert volume.sum() == mask.sum()
    with pytest.raises(ConfigError, match="shape"):
        place_slice(volume, mask.T if shape[0] != shape[1] else mask[:-1], 2, axis)
    with pytest.raises(ConfigError, match="out of range"):
        display_slice(volume, 99, axis)
    with pytest.raises(ConfigError, match="unknown slice axis"):
        display_slice(volume, 0, "oblique")
