"""Fabric object transforms: hand-computed vertices for moved/scaled/rotated/flipped/skewed shapes."""

from __future__ import annotations

import math

import numpy as np
import pytest

from core.errors import ConfigError
from core.roi import (CanvasTransform, object_matrix, object_rings, object_to_mask, objects_to_masks,
                      ring_area, shapes_to_mask)

# Measured in a real browser: clicks at (40,40), (200,50), (180,200), (50,180).
MEASURED = {
    "type": "Polygon", "originX": "center", "originY": "center", "left": 120, "top": 119.2,
    "width": 160, "height": 160, "scaleX": 1, "scaleY": 1, "angle": 0, "strokeWidth": 3,
    "points": [{"x": 40, "y": 39.2}, {"x": 200, "y": 49.2}, {"x": 180, "y": 199.2}, {"x": 50, "y": 179.2}],
}
PTS = np.array([[40, 39.2], [200, 49.2], [180, 199.2], [50, 179.2]])
CENTRE = np.array([120, 119.2])


def ring(obj, parent=None):
    rings = object_rings(obj, parent).rings
    assert len(rings) == 1
    return rings[0]


def test_measured_polygon_lands_on_its_points():
    np.testing.assert_allclose(ring(MEASURED), PTS, atol=1e-9)


def test_moved_polygon_translates_points():
    moved = {**MEASURED, "left": 150, "top": 100}
    np.testing.assert_allclose(ring(moved), PTS + [30, -19.2], atol=1e-9)


def test_scaled_polygon_scales_about_its_centre():
    scaled = {**MEASURED, "scaleX": 2, "scaleY": 0.5}
    expected = CENTRE + (PTS - CENTRE) * [2, 0.5]
    np.testing.assert_allclose(ring(scaled), expected, atol=1e-9)


def test_rotated_polygon_90_degrees_clockwise_on_screen():
    rotated = {**MEASURED, "angle": 90}
    d = PTS - CENTRE
    # canvas y points down: +90 degrees sends (dx, dy) to (-dy, dx)
    expected = CENTRE + np.stack([-d[:, 1], d[:, 0]], axis=1)
    np.testing.assert_allclose(ring(rotated), expected, atol=1e-9)


def test_flipped_polygon_mirrors_about_its_centre():
    flipped = {**MEASURED, "flipX": True}
    expected = PTS.copy()
    expected[:, 0] = 2 * CENTRE[0] - PTS[:, 0]
    np.testing.assert_allclose(ring(flipped), expected, atol=1e-9)
    both = {**MEASURED, "flipX": True, "flipY": True}
    np.testing.assert_allclose(ring(both), 2 * CENTRE - PTS, atol=1e-9)


def test_polygon_with_left_top_origin_includes_stroke_in_the_box():
    # origin left/top: left/top is the corner of the box that includes the stroke (width 4)
    pts = [{"x": 0, "y": 0}, {"x": 100, "y": 0}, {"x": 100, "y": 50}]
    obj = {"type": "polygon", "originX": "left", "originY": "top", "left": 10, "top": 20,
           "width": 100, "height": 50, "strokeWidth": 4, "points": pts}
    np.testing.assert_allclose(ring(obj), [[12, 22], [112, 22], [112, 72]], atol=1e-9)


def test_rect_left_top_origin_stroke_and_uniform_stroke():
    base = {"type": "rect", "originX": "left", "originY": "top", "left": 10, "top": 20,
            "width": 100, "height": 50, "strokeWidth": 4}
    np.testing.assert_allclose(ring(base), [[12, 22], [112, 22], [112, 72], [12, 72]], atol=1e-9)
    # non-uniform stroke scales with the object: box = (100 + 4) * 2 wide
    scaled = {**base, "scaleX": 2}
    np.testing.assert_allclose(ring(scaled), [[14, 22], [214, 22], [214, 72], [14, 72]], atol=1e-9)
    # strokeUniform (what the canvas rect tool sets): stroke added after scaling
    uniform = {**scaled, "strokeUniform": True}
    np.testing.assert_allclose(ring(uniform), [[12, 22], [212, 22], [212, 72], [12, 72]], atol=1e-9)


def test_rect_rotated_about_its_left_top_origin():
    obj = {"type": "Rect", "originX": "left", "originY": "top", "left": 100, "top": 100,
           "width": 40, "height": 20, "strokeWidth": 0, "angle": 90}
    # the top-left corner stays at (100, 100); the width now runs down, the height to the left
    np.testing.assert_allclose(ring(obj), [[100, 100], [100, 140], [80, 140], [80, 100]], atol=1e-9)


def test_numeric_and_right_bottom_origins():
    obj = {"type": "rect", "originX": "right", "originY": "bottom", "left": 100, "top": 100,
           "width": 40, "height": 20, "strokeWidth": 0}
    np.testing.assert_allclose(ring(obj), [[60, 80], [100, 80], [100, 100], [60, 100]], atol=1e-9)
    numeric = {**obj, "originX": 0.25, "originY": 0.75}  # 25% from the left, 75% down
    np.testing.assert_allclose(ring(numeric), [[90, 85], [130, 85], [130, 105], [90, 105]], atol=1e-9)


def test_missing_origin_defaults_to_fabric7_centre():
    obj = {"type": "rect", "left": 50, "top": 40, "width": 20, "height": 10, "strokeWidth": 4}
    np.testing.assert_allclose(ring(obj), [[40, 35], [60, 35], [60, 45], [40, 45]], atol=1e-9)


def test_skew_x_makes_a_parallelogram_of_equal_area():
    obj = {"type": "rect", "originX": "center", "originY": "center", "left": 0, "top": 0,
           "width": 40, "height": 20, "strokeWidth": 0, "skewX": 45}
    r = ring(obj)
    np.testing.assert_allclose(r, [[-30, -10], [10, -10], [30, 10], [-10, 10]], atol=1e-9)
    assert abs(ring_area(r)) == pytest.approx(800)


def test_triangle_vertices():
    obj = {"type": "triangle", "originX": "left", "originY": "top", "left": 0, "top": 0,
           "width": 30, "height": 40, "strokeWidth": 0}
    np.testing.assert_allclose(ring(obj), [[0, 40], [15, 0], [30, 40]], atol=1e-9)


def test_circle_from_the_canvas_tool_area_and_centre():
    # the circle tool uses originX left / originY center and a stroke
    r, sw = 30.0, 6.0
    obj = {"type": "Circle", "originX": "left", "originY": "center", "left": 40, "top": 80,
           "radius": r, "width": 2 * r, "height": 2 * r, "strokeWidth": sw}
    mask = shapes_to_mask([obj], (200, 200))
    assert mask.sum() == pytest.approx(math.pi * r * r, rel=0.01)
    cy, cx = np.argwhere(mask).mean(axis=0) + 0.5
    assert (cx, cy) == pytest.approx((40 + r + sw / 2, 80), abs=0.05)


def test_half_circle_arc_is_closed_by_its_chord():
    obj = {"type": "circle", "originX": "center", "originY": "center", "left": 100, "top": 100,
           "radius": 40, "width": 80, "height": 80, "strokeWidth": 0, "startAngle": 0, "endAngle": 180}
    mask = shapes_to_mask([obj], (200, 200))
    assert mask.sum() == pytest.approx(math.pi * 1600 / 2, rel=0.01)
    assert not mask[:100].any()  # angles 0..180 sweep through +y, i.e. downwards


def test_scaled_rotated_ellipse_area():
    obj = {"type": "ellipse", "originX": "center", "originY": "center", "left": 150, "top": 120,
           "rx": 40, "ry": 15, "width": 80, "height": 30, "scaleX": 1.5, "scaleY": 2, "angle": 33,
           "strokeWidth": 2}
    mask = shapes_to_mask([obj], (300, 300))
    assert mask.sum() == pytest.approx(math.pi * 60 * 30, rel=0.01)


def test_line_is_a_band_of_its_stroke_width():
    obj = {"type": "line", "originX": "center", "originY": "center", "left": 100, "top": 50,
           "x1": -50, "y1": 0, "x2": 50, "y2": 0, "width": 100, "height": 0, "strokeWidth": 10}
    mask = shapes_to_mask([obj], (100, 200))
    assert mask.sum() == 100 * 10
    rows = np.flatnonzero(mask.any(axis=1))
    assert (rows[0], rows[-1]) == (45, 54)


def test_polyline_is_stroked_not_filled():
    obj = {"type": "polyline", "originX": "center", "originY": "center", "left": 50, "top": 50,
           "strokeWidth": 2, "points": [{"x": 0, "y": 0}, {"x": 60, "y": 0}, {"x": 60, "y": 60}]}
    mask = shapes_to_mask([obj], (100, 100))
    assert not mask[40, 40]  # inside the L's hull, but not on the stroke
    assert mask.sum() == pytest.approx(120 * 2, abs=6)


def test_path_uses_fabrics_quadratic_bounds_for_its_offset():
    # Fabric bounds "Q c p" like the cubic "C c c p": height 75, not the true 50
    obj = {"type": "Path", "originX": "center", "originY": "center", "left": 200, "top": 200,
           "strokeWidth": 0, "path": [["M", 0, 0], ["Q", 50, 100, 100, 0], ["Z"]]}
    r = ring(obj)
    assert r[:, 1].min() == pytest.approx(200 - 37.5)
    assert r[:, 1].max() == pytest.approx(200 - 37.5 + 50, abs=1e-3)
    assert (r[:, 0].min(), r[:, 0].max()) == pytest.approx((150, 250))


def test_freedraw_path_is_filled_and_matches_the_polygon():
    cmds = [["M", 10, 10], ["L", 110, 10], ["L", 110, 60], ["L", 10, 60], ["Z"]]
    obj = {"type": "path", "originX": "left", "originY": "top", "left": 7, "top": 8,
           "strokeWidth": 2, "scaleX": 0.5, "path": cmds}
    # box incl. stroke: (100 + 2) * 0.5 wide, starts at left 7 -> geometry x from 7.5 to 57.5
    r = ring(obj)
    assert (r[:, 0].min(), r[:, 0].max(), r[:, 1].min(), r[:, 1].max()) == pytest.approx((7.5, 57.5, 9, 59))
    relative = {**obj, "path": [["m", 10, 10], ["h", 100], ["v", 50], ["H", 10], ["z"]]}
    np.testing.assert_allclose(ring(relative), r, atol=1e-9)


def test_cubic_path_flattening_is_close_to_the_curve():
    # a cubic circle approximation (kappa) of radius 50: area within 0.1% of pi r^2 (its own error ~0.03%)
    k = 0.5522847498 * 50
    cmds = [["M", 50, 0], ["C", 50, k, k, 50, 0, 50], ["C", -k, 50, -50, k, -50, 0],
            ["C", -50, -k, -k, -50, 0, -50], ["C", k, -50, 50, -k, 50, 0], ["Z"]]
    obj = {"type": "path", "originX": "center", "originY": "center", "left": 100, "top": 100,
           "strokeWidth": 0, "path": cmds}
    assert abs(ring_area(ring(obj))) == pytest.approx(math.pi * 2500, rel=1e-3)


def test_group_children_are_placed_relative_to_the_group_centre():
    child = {"type": "rect", "originX": "center", "originY": "center", "left": 10, "top": 0,
             "width": 20, "height": 10, "strokeWidth": 0}
    group = {"type": "Group", "originX": "center", "originY": "center", "left": 100, "top": 50,
             "width": 40, "height": 10, "strokeWidth": 0, "angle": 180, "objects": [child]}
    np.testing.assert_allclose(ring(group), [[100, 55], [80, 55], [80, 45], [100, 45]], atol=1e-9)


@pytest.mark.parametrize("scale", [0.5, 2.0])
@pytest.mark.parametrize("offset", [(0.0, 0.0), (13.0, -7.5)])
def test_canvas_scale_and_offset_map_back_to_image_pixels(scale, offset):
    transform = CanvasTransform(scale, scale, *offset)
    # a rect covering image pixels columns 10..29, rows 5..14, drawn on the canvas
    x0, y0 = transform.to_canvas([[10, 5]])[0]
    obj = {"type": "rect", "originX": "left", "originY": "top", "left": x0, "top": y0,
           "width": 20 * scale, "height": 10 * scale, "strokeWidth": 0}
    mask = object_to_mask(obj, (40, 50), transform)
    expected = np.zeros((40, 50), dtype=bool)
    expected[5:15, 10:30] = True
    np.testing.assert_array_equal(mask, expected)


def test_anisotropic_background_fit_and_contain_fit():
    fit = {"natural_width": 100, "natural_height": 50, "scale_x": 6.0, "scale_y": 8.0,
           "offset_x": 0.0, "offset_y": 0.0}
    t = CanvasTransform.from_background_fit(fit)
    assert t == CanvasTransform.fit((50, 100), (600, 400), "stretch")
    c = CanvasTransform.fit((50, 100), (600, 400), "contain")
    assert (c.scale_x, c.scale_y, c.offset_x, c.offset_y) == (6.0, 6.0, 0.0, 50.0)
    pts = np.array([[0, 0], [100, 50], [12.5, 33.25]])
    np.testing.assert_allclose(c.to_image(c.to_canvas(pts)), pts)
    with pytest.raises(ConfigError):
        CanvasTransform(0, 1)


def test_type_names_are_case_insensitive_and_unknown_types_fail_clearly():
    lower = {**MEASURED, "type": "polygon"}
    np.testing.assert_array_equal(object_to_mask(lower, (256, 256)), object_to_mask(MEASURED, (256, 256)))
    with pytest.raises(ConfigError, match="not supported"):
        shapes_to_mask([{"type": "Hexagon", "left": 0, "top": 0}], (10, 10))
    with pytest.raises(ConfigError, match="type"):
        shapes_to_mask([{"left": 0}], (10, 10))
    with pytest.raises(ConfigError):
        shapes_to_mask([{"type": "path", "path": [["A", 1, 2, 3, 4, 5, 6, 7]]}], (10, 10))


def test_text_is_skipped_with_a_warning_and_indices_are_kept():
    text = {"type": "IText", "left": 5, "top": 5, "text": "lesion"}
    with pytest.warns(UserWarning, match="not a region"):
        masks = objects_to_masks({"objects": [text, MEASURED]}, (256, 256))
    assert [i for i, _ in masks] == [1]


def test_object_matrix_is_affine_composition():
    obj = {**MEASURED, "angle": 30, "scaleX": 1.3, "skewY": 10, "flipY": True}
    m = object_matrix(obj)
    assert m.shape == (3, 3) and np.allclose(m[2], [0, 0, 1])
    # centre origin: the local origin maps to left/top
    np.testing.assert_allclose(m @ [0, 0, 1], [120, 119.2, 1])
