"""Fabric.js 7 objects (as serialised by ``canvas.toObject()``) -> outlines.

Fabric draws an object in its own plane, centred on ``(0, 0)``, and maps that
plane to the canvas with

    M = T(centre) . R(angle) . S(scaleX * flipX, scaleY * flipY) . SkewX . SkewY

(``calcOwnMatrix``).  ``centre`` comes from ``left/top``, which is where the
object's *origin* (``originX``/``originY``: left/center/right, top/center/bottom
or a fraction; Fabric 7's default is center) sits: the offset from that origin to the centre is measured on
the transformed bounding box, which *includes the stroke width* (added before
scaling, or after it when ``strokeUniform``), and then rotated about
``left/top``.  Polygons, polylines and paths draw their points minus
``pathOffset``, the centre of the points' bounding box.

Only the geometry matters for an ROI: a filled shape's mask is its interior
(the stroke drawn on its border is ignored), while an open shape (line,
polyline) is a stroke, whose mask is the band ``strokeWidth`` wide around it
(joins drawn round; Fabric's default miter joins add at most a few pixels at
sharp corners).
Freehand paths are treated as outlines of a region and filled (implicitly
closed).  Text objects are not regions and are skipped; any other unknown
type raises :class:`core.errors.ConfigError`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from core.errors import ConfigError
from core.roi.paths import flatten_subpaths, parse_path, path_bounds

__all__ = ["Outline", "FILLED_TYPES", "STROKED_TYPES", "SKIPPED_TYPES",
           "object_type", "object_matrix", "object_rings"]

FILLED_TYPES = frozenset({"rect", "labeledrect", "circle", "ellipse", "triangle", "polygon", "path"})
STROKED_TYPES = frozenset({"line", "polyline"})
GROUP_TYPES = frozenset({"group", "activeselection"})
SKIPPED_TYPES = frozenset({"text", "itext", "i-text", "textbox", "image", "fabricimage"})

_ORIGIN = {"left": -0.5, "top": -0.5, "center": 0.0, "bottom": 0.5, "right": 0.5}


@dataclass
class Outline:
    """Rings of one canvas object in the target coordinates; filled with ``fill_rule``."""

    rings: list[np.ndarray] = field(default_factory=list)  # each (N, 2) as (x, y)
    fill_rule: str = "nonzero"


def object_type(obj: Mapping[str, Any]) -> str:
    """The lower-case Fabric type name (``"Polygon"`` and ``"polygon"`` are the same)."""
    kind = obj.get("type") if isinstance(obj, Mapping) else None
    if not isinstance(kind, str) or not kind:
        raise ConfigError("canvas object has no 'type'")
    return kind.lower()


def _num(obj: Mapping[str, Any], key: str, default: float) -> float:
    value = obj.get(key, default)
    if value is None:
        return float(default)
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"canvas object field {key!r} must be a number, got {value!r}") from None
    if not math.isfinite(out):
        raise ConfigError(f"canvas object field {key!r} must be finite, got {value!r}")
    return out


def _origin(value: Any, key: str) -> float:
    if isinstance(value, str):
        if value not in _ORIGIN:
            raise ConfigError(f"canvas object {key} {value!r} is not left/center/right/top/bottom")
        return _ORIGIN[value]
    if value is None:  # Fabric 7's default origin is the centre
        return 0.0
    return float(value) - 0.5


def _skew_scale_matrix(sx: float, sy: float, skew_x: float, skew_y: float,
                       flip_x: bool = False, flip_y: bool = False) -> np.ndarray:
    scale = np.diag([-sx if flip_x else sx, -sy if flip_y else sy, 1.0])
    kx = np.array([[1, math.tan(math.radians(skew_x)), 0], [0, 1, 0], [0, 0, 1]])
    ky = np.array([[1, 0, 0], [math.tan(math.radians(skew_y)), 1, 0], [0, 0, 1]])
    return scale @ kx @ ky


def _rotation(angle_deg: float) -> np.ndarray:
    a = math.radians(angle_deg)
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def _transformed_dimensions(obj: Mapping[str, Any], size: tuple[float, float] | None = None) -> np.ndarray:
    """Fabric's ``_getTransformedDimensions``: the box used to place the origin."""
    width, height = size if size is not None else (_num(obj, "width", 0), _num(obj, "height", 0))
    sx, sy = _num(obj, "scaleX", 1), _num(obj, "scaleY", 1)
    skew_x, skew_y = _num(obj, "skewX", 0), _num(obj, "skewY", 0)
    stroke = _num(obj, "strokeWidth", 1)
    if obj.get("exactBoundingBox"):
        # width/height already contain the projected stroke
        return np.array([width * sx, height * sy])
    uniform = bool(obj.get("strokeUniform"))
    w = width + (0 if uniform else stroke)
    h = height + (0 if uniform else stroke)
    if skew_x == 0 and skew_y == 0:
        dims = np.array([w * sx, h * sy])
    else:
        m = _skew_scale_matrix(sx, sy, skew_x, skew_y)[:2, :2]
        corners = np.array([[-w / 2, -h / 2], [w / 2, -h / 2], [-w / 2, h / 2], [w / 2, h / 2]]) @ m.T
        dims = corners.max(axis=0) - corners.min(axis=0)
    return dims + (stroke if uniform else 0)


def _intrinsic_size(obj: Mapping[str, Any]) -> tuple[float, float] | None:
    """Width/height Fabric recomputes from the geometry when it loads the object.

    Loading a polygon, path, line, circle or ellipse re-derives its size from
    points/path/radius (the serialised width/height are overwritten), so we do
    the same instead of trusting possibly stale or missing numbers.
    """
    kind = object_type(obj)
    if kind in ("polygon", "polyline"):
        pts = _points(obj)
        w, h = pts.max(axis=0) - pts.min(axis=0)
        return float(w), float(h)
    if kind == "path":
        _, _, w, h = path_bounds(parse_path(obj.get("path")))
        return w, h
    if kind == "line":
        return (abs(_num(obj, "x2", 0) - _num(obj, "x1", 0)), abs(_num(obj, "y2", 0) - _num(obj, "y1", 0)))
    if kind == "circle":
        return 2 * _num(obj, "radius", 0), 2 * _num(obj, "radius", 0)
    if kind == "ellipse":
        return 2 * _num(obj, "rx", 0), 2 * _num(obj, "ry", 0)
    return None


def object_matrix(obj: Mapping[str, Any]) -> np.ndarray:
    """(3, 3) affine matrix from the object's own plane to its parent's (the canvas)."""
    left, top = _num(obj, "left", 0), _num(obj, "top", 0)
    angle = _num(obj, "angle", 0)
    ox = _origin(obj.get("originX"), "originX")
    oy = _origin(obj.get("originY"), "originY")
    centre = np.array([left, top])
    if ox or oy:
        dims = _transformed_dimensions(obj, _intrinsic_size(obj))
        offset = np.array([-ox * dims[0], -oy * dims[1]])
        centre = centre + _rotation(angle)[:2, :2] @ offset
    translate = np.array([[1, 0, centre[0]], [0, 1, centre[1]], [0, 0, 1]], dtype=np.float64)
    return translate @ _rotation(angle) @ _skew_scale_matrix(
        _num(obj, "scaleX", 1), _num(obj, "scaleY", 1), _num(obj, "skewX", 0), _num(obj, "skewY", 0),
        bool(obj.get("flipX")), bool(obj.get("flipY")))


def _apply(matrix: np.ndarray, pts: np.ndarray) -> np.ndarray:
    return np.asarray(pts, dtype=np.float64) @ matrix[:2, :2].T + matrix[:2, 2]


def _max_scale(matrix: np.ndarray) -> float:
    return float(np.linalg.svd(matrix[:2, :2], compute_uv=False)[0])


def _points(obj: Mapping[str, Any]) -> np.ndarray:
    raw = obj.get("points")
    if not isinstance(raw, list) or not raw:
        raise ConfigError(f"canvas {obj.get('type')} has no 'points' list")
    try:
        pts = np.array([[float(p["x"]), float(p["y"])] for p in raw], dtype=np.float64)
    except (TypeError, KeyError, ValueError):
        raise ConfigError(f"canvas {obj.get('type')} points must be {{x, y}} numbers") from None
    if not np.isfinite(pts).all():
        raise ConfigError(f"canvas {obj.get('type')} has a non-finite point")
    return pts


def _points_offset(pts: np.ndarray) -> np.ndarray:
    return (pts.min(axis=0) + pts.max(axis=0)) / 2


def _arc(rx: float, ry: float, start_deg: float, end_deg: float, ccw: bool, scale: float) -> np.ndarray:
    # chord sagitta r (1 - cos(pi/n)) stays below ~0.02 output pixels
    r = max(rx, ry) * scale
    n_full = int(min(4096, max(32, math.ceil(math.pi * math.sqrt(max(r, 1.0) / 0.04)))))
    sweep = end_deg - start_deg
    if ccw:
        sweep = -((-sweep) % 360 or (360 if sweep else 0))
    else:
        sweep = sweep % 360 or (360 if sweep else 0)
    if abs(sweep) >= 360 or sweep == 0:
        t = np.linspace(0, 2 * math.pi, n_full, endpoint=False)
    else:
        n = max(4, math.ceil(n_full * abs(sweep) / 360))
        t = np.radians(start_deg + np.linspace(0, sweep, n + 1))
    return np.stack([rx * np.cos(t), ry * np.sin(t)], axis=1)


def _rounded_rect(w: float, h: float, rx: float, ry: float, scale: float) -> np.ndarray:
    rx, ry = min(rx, w / 2), min(ry, h / 2)
    if rx <= 0 or ry <= 0:
        return np.array([[-w / 2, -h / 2], [w / 2, -h / 2], [w / 2, h / 2], [-w / 2, h / 2]])
    quarter = _arc(rx, ry, 0, 360, False, scale)
    n = len(quarter) // 4 + 1
    corners = []
    for cx, cy, a0 in ((w / 2 - rx, h / 2 - ry, 0), (-w / 2 + rx, h / 2 - ry, 90),
                       (-w / 2 + rx, -h / 2 + ry, 180), (w / 2 - rx, -h / 2 + ry, 270)):
        t = np.radians(np.linspace(a0, a0 + 90, n))
        corners.append(np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], axis=1))
    return np.vstack(corners)


def _stroke_rings(centre_line: np.ndarray, half: float, cap: str, closed: bool) -> list[np.ndarray]:
    """Band of half-width ``half`` around a polyline (N, 2), as rings all oriented alike."""
    rings: list[np.ndarray] = []
    pts = centre_line
    if closed:
        pts = np.vstack([pts, pts[:1]])
    if half <= 0 or len(pts) < 2:
        return rings
    disc = np.stack([np.cos(t := np.linspace(0, 2 * math.pi, 24, endpoint=False)), np.sin(t)], axis=1) * half
    for a, b in zip(pts[:-1], pts[1:]):
        d = b - a
        length = float(np.hypot(*d))
        if length == 0:
            continue
        u = d / length
        n = np.array([-u[1], u[0]]) * half
        ext = u * half if cap == "square" else 0.0
        quad = np.array([a - ext + n, b + ext + n, b + ext - n, a - ext - n])
        rings.append(quad if _signed(quad) > 0 else quad[::-1])
    # round joins at interior vertices (and round caps) cover the gaps between segment bands
    joints = pts[1:-1] if not closed else pts[:-1]
    if cap == "round" and not closed:
        joints = pts
    for p in joints:
        rings.append(p + disc)
    return rings


def _signed(ring: np.ndarray) -> float:
    x, y = ring[:, 0], ring[:, 1]
    return float(np.dot(x, np.roll(y, -1)) - np.dot(np.roll(x, -1), y))


def object_rings(obj: Mapping[str, Any], parent: np.ndarray | None = None) -> Outline:
    """Rings of one object mapped by ``parent @ own matrix``; ``parent`` (3, 3) defaults to identity.

    Pass ``parent = image_from_canvas`` to get image coordinates directly.
    """
    kind = object_type(obj)
    parent = np.eye(3) if parent is None else np.asarray(parent, dtype=np.float64)
    if kind in SKIPPED_TYPES:
        return Outline()
    if kind in GROUP_TYPES:
        children = obj.get("objects") or []
        matrix = parent @ object_matrix(obj)
        out = Outline()
        for child in children:
            sub = object_rings(child, matrix)
            out.rings.extend(sub.rings)
        return out
    if kind not in FILLED_TYPES | STROKED_TYPES:
        raise ConfigError(
            f"canvas object type {obj.get('type')!r} is not supported "
            f"(supported: rect, circle, ellipse, triangle, polygon, polyline, path, line)")
    matrix = parent @ object_matrix(obj)
    scale = _max_scale(matrix)
    width, height = _intrinsic_size(obj) or (_num(obj, "width", 0), _num(obj, "height", 0))
    fill_rule = "evenodd" if obj.get("fillRule") == "evenodd" else "nonzero"

    if kind in ("rect", "labeledrect"):
        local = _rounded_rect(width, height, _num(obj, "rx", 0), _num(obj, "ry", 0), scale)
        return Outline([_apply(matrix, local)], fill_rule)
    if kind == "circle":
        r = _num(obj, "radius", 0)
        local = _arc(r, r, _num(obj, "startAngle", 0), _num(obj, "endAngle", 360),
                     bool(obj.get("counterClockwise")), scale)
        return Outline([_apply(matrix, local)], fill_rule)
    if kind == "ellipse":
        local = _arc(_num(obj, "rx", 0), _num(obj, "ry", 0), 0, 360, False, scale)
        return Outline([_apply(matrix, local)], fill_rule)
    if kind == "triangle":
        local = np.array([[-width / 2, height / 2], [0, -height / 2], [width / 2, height / 2]])
        return Outline([_apply(matrix, local)], fill_rule)
    if kind == "polygon":
        pts = _points(obj)
        return Outline([_apply(matrix, pts - _points_offset(pts))], fill_rule)
    if kind == "path":
        segments = parse_path(obj.get("path"))
        left, top, w, h = path_bounds(segments)
        offset = np.array([left + w / 2, top + h / 2])
        shift = np.array([[1, 0, -offset[0]], [0, 1, -offset[1]], [0, 0, 1]])
        return Outline(flatten_subpaths(segments, matrix @ shift), fill_rule)

    # stroked shapes: the band strokeWidth wide around the centre line
    if kind == "line":
        x1, x2 = _num(obj, "x1", 0), _num(obj, "x2", 0)
        y1, y2 = _num(obj, "y1", 0), _num(obj, "y2", 0)
        # Fabric 7 serialises x1..y2 relative to the centre; re-derive from width/height like calcLinePoints
        sx_ = -0.5 if x1 <= x2 else 0.5
        sy_ = -0.5 if y1 <= y2 else 0.5
        local = np.array([[sx_ * width, sy_ * height], [-sx_ * width, -sy_ * height]])
    else:  # polyline
        pts = _points(obj)
        local = pts - _points_offset(pts)
    stroke = _num(obj, "strokeWidth", 1)
    cap = str(obj.get("strokeLineCap") or "butt")
    if obj.get("strokeUniform"):
        # stroke width is in canvas pixels, unaffected by the object's scale
        line = _apply(matrix, local)
        half = stroke / 2 * _max_scale(parent)
        return Outline([r for r in _stroke_rings(line, half, cap, False)], "nonzero")
    local_rings = _stroke_rings(local, stroke / 2, cap, False)
    rings = [_apply(matrix, r) for r in local_rings]
    # a reflection flips orientation; keep all rings alike so nonzero filling is a union
    if np.linalg.det(matrix[:2, :2]) < 0:
        rings = [r[::-1] for r in rings]
    return Outline(rings, "nonzero")
