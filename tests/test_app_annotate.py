"""The Annotate page's logic: canvas drawings diffed against the store, canvas sizing."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import ConfigError
from core.roi import objects_to_masks
from core.store import AnnotationStore
from core.studio.annotate import apply_drawing, initial_drawing
from core.studio.canvas import fit_canvas


def _rect(left, top, width, height):
    return {"type": "rect", "left": left, "top": top, "width": width, "height": height, "originX": "left",
            "originY": "top", "scaleX": 1, "scaleY": 1, "angle": 0, "fill": "red", "stroke": "red",
            "strokeWidth": 0}


@pytest.fixture
def plane(workspace):
    store = AnnotationStore(workspace)
    image_id = store.add_image("ab" * 32, workspace.root / "x.png", shape=(40, 60))
    return store, image_id


@pytest.mark.parametrize("shape", [(40, 60), (128, 128), (512, 300), (7, 1000)])
def test_fit_canvas_keeps_aspect_and_maps_corners(shape):
    width, height, t = fit_canvas(shape)
    scale = 640 / max(shape)
    assert max(width, height) == 640
    assert abs(width - shape[1] * scale) <= 0.5 and abs(height - shape[0] * scale) <= 0.5
    corners = t.to_canvas(np.array([[0, 0], [shape[1], shape[0]]]))
    assert np.allclose(corners, [[0, 0], [width, height]])


def test_new_shapes_become_rois_with_their_masks(plane):
    store, image_id = plane
    width, height, t = fit_canvas((40, 60))
    drawing, owners = initial_drawing([], t)
    shapes = [_rect(0, 0, 10 * t.scale_x, 5 * t.scale_y), _rect(30 * t.scale_x, 20 * t.scale_y,
                                                                 20 * t.scale_x, 10 * t.scale_y)]
    summary = apply_drawing(store, image_id, [], drawing, owners, {"objects": shapes}, (40, 60), t,
                            label="lesion", annotator="dr a")
    assert len(summary.created) == 2 and summary.updated == []
    rois = store.list_rois(image_id)
    assert [r.area for r in rois] == [50, 200]
    assert rois[1].mask[20:30, 30:50].all() and rois[1].mask.sum() == 200
    assert {r.annotator for r in rois} == {"dr a"} and {r.label for r in rois} == {"lesion"}


def test_untouched_rois_are_not_rewritten_and_edits_make_a_version(plane):
    store, image_id = plane
    width, height, t = fit_canvas((40, 60))
    mask = np.zeros((40, 60), bool)
    mask[5:25, 10:30] = True
    mask[30:35, 50:55] = True  # a second piece: two canvas objects owned by one ROI
    roi = store.add_roi(image_id, "lesion", mask, annotator="dr a")
    drawing, owners = initial_drawing([roi], t)
    assert owners == [roi.id, roi.id]
    # The outlines drawn back rasterise to the stored mask.
    back = np.zeros_like(mask)
    for _, m in objects_to_masks(drawing, (40, 60), t):
        back |= m
    assert np.array_equal(back, mask)
    same = apply_drawing(store, image_id, [roi], drawing, owners, drawing, (40, 60), t, label="x", annotator="dr b")
    assert same.created == [] and same.updated == [] and store.get_roi(roi.id).version == 1
    moved = [dict(o) for o in drawing["objects"]]
    small = next(i for i, m in objects_to_masks(drawing, (40, 60), t) if m[30:35, 50:55].all())
    moved[small] = _rect(0, 0, 5 * t.scale_x, 5 * t.scale_y)  # replace the small piece by another square
    edit = apply_drawing(store, image_id, [roi], drawing, owners, {"objects": moved}, (40, 60), t, label="x",
                         annotator="dr b")
    assert edit.updated == [roi.id] and edit.created == []
    new = store.get_roi(roi.id)
    assert new.version == 2 and new.annotator == "dr b"
    assert new.mask[0:5, 0:5].all() and not new.mask[30:35, 50:55].any() and new.mask[5:25, 10:30].all()
    store.undo_roi(roi.id, annotator="dr b")
    assert np.array_equal(store.get_roi(roi.id).mask, mask)


def test_removed_shapes_save_nothing_and_missing_names_are_errors(plane):
    store, image_id = plane
    width, height, t = fit_canvas((40, 60))
    mask = np.zeros((40, 60), bool)
    mask[5:25, 10:30] = True
    roi = store.add_roi(image_id, "lesion", mask, annotator="dr a")
    drawing, owners = initial_drawing([roi], t)
    summary = apply_drawing(store, image_id, [roi], drawing, owners, {"objects": []}, (40, 60), t, label="x",
                            annotator="dr a")
    assert summary.warnings and store.get_roi(roi.id).version == 1 and not store.get_roi(roi.id).deleted
    extra = {"objects": drawing["objects"] + [_rect(0, 0, 40, 40)]}
    with pytest.raises(ConfigError, match="annotator"):
        apply_drawing(store, image_id, [roi], drawing, owners, extra, (40, 60), t, label="x", annotator=" ")
    with pytest.raises(ConfigError, match="label"):
        apply_drawing(store, image_id, [roi], drawing, owners, extra, (40, 60), t, label="", annotator="dr a")
    assert len(store.list_rois(image_id)) == 1
