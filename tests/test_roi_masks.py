"""Rasterisation against an independent point-in-polygon oracle, and mask <-> canvas round trips."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from scipy import ndimage

from core.errors import ConfigError
from core.roi import (CanvasTransform, canvas_drawing, mask_to_canvas_objects, mask_to_outline, rasterize_rings,
                      ring_area, shapes_to_mask)


def dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2 * float((a & b).sum()) / float(a.sum() + b.sum())


def star_polygon(rng: np.random.Generator, centre, r_min, r_max, n) -> np.ndarray:
    angles = np.sort(rng.uniform(0, 2 * math.pi, n))
    radii = rng.uniform(r_min, r_max, n)
    return np.stack([centre[0] + radii * np.cos(angles), centre[1] + radii * np.sin(angles)], axis=1)


@pytest.mark.parametrize("seed", range(4))
def test_rasteriser_matches_point_in_polygon_at_pixel_centres(seed):
    rng = np.random.default_rng(seed)
    poly = star_polygon(rng, (31.3, 27.8), 5, 25, 17)
    mask = rasterize_rings([poly], (60, 64))
    yy, xx = np.mgrid[:60, :64]
    centres = np.stack([xx.ravel() + 0.5, yy.ravel() + 0.5], axis=1)
    contour = poly.astype(np.float32).reshape(-1, 1, 2)
    dist = np.array([cv2.pointPolygonTest(contour, (float(x), float(y)), True) for x, y in centres])
    clear = np.abs(dist) > 1e-3  # float32 oracle: ignore centres on the outline itself
    np.testing.assert_array_equal(mask.ravel()[clear], (dist > 0)[clear])


def test_pixel_count_tracks_area_and_shared_edges_are_not_double_counted():
    rng = np.random.default_rng(7)
    poly = star_polygon(rng, (100, 100), 40, 90, 40)
    assert rasterize_rings([poly], (200, 200)).sum() == pytest.approx(abs(ring_area(poly)), rel=0.01)
    left = np.array([[10, 10], [30.5, 10], [30.5, 40], [10, 40]])
    right = np.array([[30.5, 10], [50, 10], [50, 40], [30.5, 40]])
    a, b = rasterize_rings([left], (50, 60)), rasterize_rings([right], (50, 60))
    assert not (a & b).any()
    np.testing.assert_array_equal(a | b, rasterize_rings([np.array([[10, 10], [50, 10], [50, 40], [10, 40]])], (50, 60)))


def test_fill_rules_for_nested_rings():
    outer = np.array([[0, 0], [20, 0], [20, 20], [0, 20]], dtype=float)
    inner_same = np.array([[5, 5], [15, 5], [15, 15], [5, 15]], dtype=float)
    even = rasterize_rings([outer, inner_same], (20, 20), "evenodd")
    nonzero = rasterize_rings([outer, inner_same], (20, 20), "nonzero")
    assert even.sum() == 400 - 100 and nonzero.sum() == 400
    assert rasterize_rings([outer, inner_same[::-1]], (20, 20), "nonzero").sum() == 300
    with pytest.raises(ConfigError):
        rasterize_rings([outer], (20, 20), "winding")


def test_shapes_outside_the_image_are_clipped():
    poly = np.array([[-10, -10], [5, -10], [5, 5], [-10, 5]], dtype=float)
    mask = rasterize_rings([poly], (10, 10))
    assert mask.sum() == 25 and mask[:5, :5].all()


def blobs(seed: int, shape=(96, 128)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noise = ndimage.gaussian_filter(rng.normal(size=shape), 6)
    mask = noise > np.quantile(noise, 0.8)
    # keep reasonable shapes: drop specks smaller than 20 px
    labels, n = ndimage.label(mask)
    sizes = ndimage.sum(mask, labels, range(1, n + 1))
    return np.isin(labels, 1 + np.flatnonzero(sizes >= 20))


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("transform", [CanvasTransform(), CanvasTransform(0.5, 0.5, 12, 3),
                                       CanvasTransform(2.0, 2.0, -5, 40), CanvasTransform(1.7, 0.9, 0, 0)])
def test_mask_to_canvas_and_back_keeps_dice_high(seed, transform):
    mask = blobs(seed)
    objects = mask_to_canvas_objects(mask, transform)
    assert objects and all(o["type"] in ("Polygon", "Path") for o in objects)
    back = shapes_to_mask(canvas_drawing(objects), mask.shape, transform)
    assert dice(mask, back) >= 0.97


def test_round_trip_of_a_disc_with_a_hole_uses_an_evenodd_path():
    yy, xx = np.mgrid[:80, :80]
    r2 = (xx - 40.2) ** 2 + (yy - 39.7) ** 2
    ring_mask = (r2 < 30 ** 2) & (r2 >= 12 ** 2)
    (outline,) = mask_to_outline(ring_mask)
    assert len(outline.holes) == 1
    objects = mask_to_canvas_objects(ring_mask, CanvasTransform(2, 2, 0, 0))
    assert objects[0]["type"] == "Path" and objects[0]["fillRule"] == "evenodd"
    back = shapes_to_mask(objects, ring_mask.shape, CanvasTransform(2, 2, 0, 0))
    assert dice(ring_mask, back) >= 0.97
    assert not back[40, 40]


def test_outline_simplification_reduces_vertices_and_polygon_is_self_consistent():
    yy, xx = np.mgrid[:100, :100]
    disc = (xx - 50) ** 2 + (yy - 50) ** 2 < 35 ** 2
    fine = mask_to_outline(disc, tolerance=0.0)[0].exterior
    coarse = mask_to_outline(disc, tolerance=1.0)[0].exterior
    assert len(coarse) < len(fine) / 4
    # the outline's area is the pixel count up to the sub-pixel tracing bias
    assert abs(ring_area(fine)) == pytest.approx(disc.sum(), rel=0.01)
    (obj,) = mask_to_canvas_objects(disc)
    pts = np.array([[p["x"], p["y"]] for p in obj["points"]])
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    assert (obj["left"], obj["top"]) == pytest.approx(tuple((lo + hi) / 2), abs=1e-3)
    assert (obj["width"], obj["height"]) == pytest.approx(tuple(hi - lo), abs=1e-3)


def test_single_pixels_and_empty_masks():
    mask = np.zeros((5, 5), dtype=bool)
    assert mask_to_outline(mask) == [] and mask_to_canvas_objects(mask) == []
    mask[2, 3] = True
    back = shapes_to_mask(mask_to_canvas_objects(mask), mask.shape)
    np.testing.assert_array_equal(back, mask)
    with pytest.raises(ConfigError):
        mask_to_outline(np.zeros((2, 2, 2), dtype=bool))
