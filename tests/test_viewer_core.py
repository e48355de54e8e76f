"""core.viewer: the viewer's wire formats, geometry, display conventions, plane encoding, old-canvas ROIs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from core.errors import ConfigError
from core.roi import CanvasTransform, object_to_mask, rasterize_rings
from core.viewer import (decode_chunk, decode_rle, describe_convention, display_flip, encode_planes, encode_rle, geometry_area,
                         geometry_to_mask, legacy_canvas_transform, legacy_to_viewer, orientation_labels,
                         record_payload, rle_area, validate_geometry)


# ----------------------------------------------------------------------------- RLE
@pytest.mark.parametrize("seed", range(5))
def test_rle_round_trips_random_masks(seed):
    rng = np.random.default_rng(seed)
    shape = tuple(rng.integers(1, 40, size=2))
    mask = rng.random(shape) < rng.random()
    rle = encode_rle(mask)
    assert sum(rle["counts"]) == mask.size and rle_area(rle) == mask.sum()
    assert np.array_equal(decode_rle(rle, shape), mask)


@pytest.mark.parametrize("mask", [np.zeros((3, 4), bool), np.ones((3, 4), bool), np.eye(4, dtype=bool)])
def test_rle_starts_with_a_background_run(mask):
    rle = encode_rle(mask)
    assert rle["counts"][0] == (0 if mask.flat[0] else rle["counts"][0])
    assert np.array_equal(decode_rle(rle), mask)


@pytest.mark.parametrize("bad,match", [
    ({"size": [2, 2], "counts": [1, 2]}, "cover 3 pixels"),
    ({"size": [2, 2], "counts": [5, -1]}, "non-negative"),
    ({"size": [2, 0], "counts": []}, "positive"),
    ({"size": "2x2", "counts": [4]}, "size"),
    ({"size": [2, 2]}, "counts"),
    ([4], "object"),
])
def test_rle_rejects_malformed_masks(bad, match):
    with pytest.raises(ConfigError, match=match):
        decode_rle(bad)


def test_rle_must_match_the_plane():
    with pytest.raises(ConfigError, match="image plane is 3x2"):
        decode_rle(encode_rle(np.ones((2, 3))), (3, 2))


# ----------------------------------------------------------------------------- geometry
def test_rect_covers_exactly_the_pixels_whose_centres_it_contains():
    mask = geometry_to_mask({"type": "rect", "x": 10.4, "y": 5.6, "width": 20.2, "height": 10}, (40, 60))
    # centres j + 0.5 in [10.4, 30.6): j = 10..30; i + 0.5 in [5.6, 15.6): i = 6..15
    expected = np.zeros((40, 60), bool)
    expected[6:16, 10:31] = True
    assert np.array_equal(mask, expected)


@pytest.mark.parametrize("rx,ry", [(40, 40), (30, 12.5), (55.5, 20)])
def test_ellipse_pixel_count_converges_to_its_area(rx, ry):
    g = {"type": "ellipse", "cx": 64.3, "cy": 60.1, "rx": rx, "ry": ry}
    mask = geometry_to_mask(g, (128, 140))
    assert abs(mask.sum() - geometry_area(g)) <= 0.01 * geometry_area(g)
    assert math.isclose(geometry_area(g), math.pi * rx * ry)


def test_polygon_and_freehand_use_the_store_rasteriser():
    points = [[3.2, 4.1], [30.7, 8.8], [25.1, 33.3], [6.6, 28.0]]
    expected = rasterize_rings([np.array(points)], (40, 40))
    for kind in ("polygon", "freehand"):
        assert np.array_equal(geometry_to_mask({"type": kind, "points": points}, (40, 40)), expected)


@pytest.mark.parametrize("bad,match", [
    ({"type": "circle"}, "unknown ROI shape"),
    ({"type": "polygon", "points": [[0, 0], [1, 1]]}, "3 to"),
    ({"type": "polygon", "points": [[0, 0], [1, float("nan")], [2, 2]]}, "finite"),
    ({"type": "rect", "x": 0, "y": 0, "width": -1, "height": 2}, "positive"),
    ({"type": "ellipse", "cx": 0, "cy": "a", "rx": 1, "ry": 1}, "finite number"),
    ("rect", "object"),
])
def test_invalid_geometry_is_a_config_error(bad, match):
    with pytest.raises(ConfigError, match=match):
        validate_geometry(bad)


def test_painted_rois_have_no_shape_to_rasterise():
    with pytest.raises(ConfigError, match="painted"):
        geometry_to_mask({"type": "mask"}, (4, 4))


# ----------------------------------------------------------------------------- display conventions
@pytest.mark.parametrize("axis,flipped", [("axial", True), ("coronal", True), ("sagittal", False), (None, False)])
def test_only_radiological_axial_and_coronal_planes_are_mirrored(axis, flipped):
    assert display_flip(axis, "radiological") is flipped
    assert display_flip(axis, "neurological") is False


def test_orientation_letters_follow_the_convention():
    assert orientation_labels("axial", "neurological") == {"left": "L", "right": "R", "top": "A", "bottom": "P"}
    assert orientation_labels("axial", "radiological") == {"left": "R", "right": "L", "top": "A", "bottom": "P"}
    assert orientation_labels("sagittal", "radiological") == orientation_labels("sagittal", "neurological")
    assert orientation_labels(None) is None
    assert "screen's left" in describe_convention("coronal", "radiological")
    with pytest.raises(ConfigError, match="convention"):
        display_flip("axial", "upside-down")


# ----------------------------------------------------------------------------- plane encoding
@pytest.fixture
def ct_volume(tmp_path):
    import nibabel as nib

    from core.io import load_image

    rng = np.random.default_rng(0)
    data = rng.integers(-1024, 2000, size=(20, 16, 12)).astype(np.int16)
    affine = np.diag([0.8, 0.8, 2.5, 1.0])
    nib.save(nib.Nifti1Image(data, affine), tmp_path / "ct.nii.gz")
    return load_image(str(tmp_path / "ct.nii.gz"))


@pytest.mark.parametrize("axis", ["axial", "coronal", "sagittal"])
def test_encoded_chunks_hold_every_slice_exactly(ct_volume, axis):
    encoded = encode_planes(ct_volume, axis, chunk=5)
    meta = encoded.meta
    n = ct_volume.n_slices(axis)
    assert meta["n"] == n and meta["n_chunks"] == len(encoded.chunks) == math.ceil(n / 5)
    assert meta["dtype"] == "int16" and meta["factor"] == 1 and meta["notice"] is None
    planes = np.concatenate([decode_chunk(meta, c) for c in encoded.chunks])
    assert planes.shape == (n, *meta["shape"])
    for i in range(n):
        assert np.array_equal(planes[i], ct_volume.slice(i, axis))
    row, col = ct_volume.slice_spacing(axis)
    assert math.isclose(meta["aspect"], row / col)
    assert [p["name"] for p in meta["presets"]][:8] == ["brain", "subdural", "stroke", "lung", "mediastinum",
                                                          "soft_tissue", "bone", "auto"]


def test_value_types_follow_the_data(tmp_path):
    import nibabel as nib

    from core.io import load_image

    for name, data, dtype in (("u16.nii.gz", np.full((4, 4, 3), 60000, np.uint16), "uint16"),
                              ("f32.nii.gz", np.full((4, 4, 3), 0.25, np.float32), "float32")):
        nib.save(nib.Nifti1Image(data, np.eye(4)), tmp_path / name)
        encoded = encode_planes(load_image(str(tmp_path / name)), "axial")
        assert encoded.meta["dtype"] == dtype
        assert np.all(decode_chunk(encoded.meta, encoded.chunks[0]) == data.flat[0])


def test_monochrome1_radiograph_is_flagged_and_sent_as_16_bit():
    from pydicom.data import get_testdata_file

    from core.io import load_image

    image = load_image(get_testdata_file("RG1_UNCI.dcm"))
    meta = encode_planes(image).meta
    assert meta["monochrome1"] and meta["dtype"] in ("uint16", "int16") and meta["shape"] == [1955, 1841]
    assert meta["window"] == {"center": image.default_window.center, "width": image.default_window.width}


def test_planes_over_the_pixel_budget_are_subsampled_for_display_only(ct_volume):
    encoded = encode_planes(ct_volume, "axial", max_pixels=100)  # axial planes are 16 x 20 = 320 px
    meta = encoded.meta
    assert meta["factor"] == 2 and meta["shape"] == [16, 20] and meta["display_shape"] == [8, 10]
    assert "1/2 resolution" in meta["notice"] and "full resolution" in meta["notice"]
    first = decode_chunk(meta, encoded.chunks[0])[0]
    assert np.array_equal(first, ct_volume.slice(0, "axial")[::2, ::2])


def test_frames_of_a_2d_image_need_no_axis(ct_volume):
    with pytest.raises(ConfigError, match="axis"):
        encode_planes(ct_volume, None)


# ----------------------------------------------------------------------------- old-canvas ROIs
def _legacy_roi(workspace, obj, shape=(90, 120)):
    from core.store import AnnotationStore

    store = AnnotationStore(workspace)
    image_id = store.add_image("cd" * 32, workspace.root / "x.png", shape=shape)
    mask = object_to_mask(obj, shape, legacy_canvas_transform(shape))
    return store, store.add_roi(image_id, "lesion", mask, annotator="dr a", geometry=obj)


@pytest.mark.parametrize("obj", [
    {"type": "rect", "left": 100, "top": 60, "width": 150, "height": 90, "originX": "left", "originY": "top",
     "strokeWidth": 2, "angle": 15},
    {"type": "Polygon", "left": 300, "top": 200, "originX": "center", "originY": "center", "strokeWidth": 3,
     "points": [{"x": 0, "y": 0}, {"x": 120, "y": 20}, {"x": 60, "y": 140}]},
    {"type": "circle", "left": 320, "top": 240, "radius": 70, "originX": "center", "originY": "center"},
])
def test_old_canvas_shapes_become_editable_polygons_with_the_same_mask(workspace, obj):
    _, roi = _legacy_roi(workspace, obj)
    payload = record_payload(roi)
    assert payload["kind"] == "shape" and payload["geometry"]["type"] == "polygon" and payload["rle"] is None
    assert np.array_equal(geometry_to_mask(payload["geometry"], roi.mask.shape), roi.mask)


def test_old_canvas_rois_that_are_not_one_clean_shape_are_shown_as_their_mask(workspace):
    obj = {"type": "rect", "left": 100, "top": 60, "width": 150, "height": 90, "originX": "left", "originY": "top"}
    store, roi = _legacy_roi(workspace, obj)
    edited = roi.mask.copy()
    edited[:5, :5] = True  # the mask changed since (e.g. a second piece)
    roi = store.update_roi(roi.id, expected_version=1, annotator="dr a", mask=edited)
    payload = record_payload(roi)
    assert payload["kind"] == "mask" and payload["geometry"] is None
    assert np.array_equal(decode_rle(payload["rle"], edited.shape), edited)
    assert legacy_to_viewer([obj, obj], edited) is None and legacy_to_viewer(None, edited) is None


def test_the_legacy_transform_is_the_old_canvas_fit():
    t = legacy_canvas_transform((90, 120))
    assert isinstance(t, CanvasTransform)
    assert np.allclose(t.to_canvas(np.array([[120, 90]])), [[640, 480]])
