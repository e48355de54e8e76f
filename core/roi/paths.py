"""Path commands and Bézier curves: parsing Fabric's ``path`` arrays, bounds, flattening.

Fabric stores a path as a list of absolute commands after simplifying it
(``M``, ``L``, ``Q``, ``C``, ``Z``); we also accept relative and ``H``/``V`` forms.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from core.errors import ConfigError

__all__ = ["Segment", "parse_path", "path_bounds", "flatten_subpaths", "cubic_extrema_bounds"]

# A segment is (kind, control points (K, 2)) with kind "M", "L", "Q", "C" or "Z";
# "M" holds the new start point, "Z" none, the others their control points
# *after* the current point.
Segment = tuple[str, np.ndarray]

_ARITY = {"M": 2, "L": 2, "H": 1, "V": 1, "Q": 4, "C": 6, "Z": 0}


def parse_path(path: Sequence[Sequence[Any]]) -> list[Segment]:
    """Fabric ``path`` array (e.g. ``[["M", 1, 2], ["Q", 3, 4, 5, 6], ...]``) -> absolute segments."""
    if not isinstance(path, (list, tuple)):
        raise ConfigError("canvas path must be a list of commands")
    segments: list[Segment] = []
    cur = np.zeros(2)
    start = np.zeros(2)
    for item in path:
        if not isinstance(item, (list, tuple)) or not item or not isinstance(item[0], str):
            raise ConfigError(f"canvas path command {item!r} is not a [letter, numbers...] list")
        letter = item[0]
        cmd = letter.upper()
        if cmd not in _ARITY:
            raise ConfigError(f"canvas path command {letter!r} is not supported (use M, L, H, V, Q, C, Z)")
        try:
            nums = np.array([float(v) for v in item[1:]], dtype=np.float64)
        except (TypeError, ValueError):
            raise ConfigError(f"canvas path command {item!r} has non-numeric arguments") from None
        arity = _ARITY[cmd]
        if (arity == 0 and len(nums)) or (arity and (len(nums) == 0 or len(nums) % arity)):
            raise ConfigError(f"canvas path command {letter!r} needs {arity} numbers, got {len(nums)}")
        if not np.isfinite(nums).all():
            raise ConfigError(f"canvas path command {letter!r} has a non-finite number")
        relative = letter.islower()
        if cmd == "Z":
            segments.append(("Z", np.zeros((0, 2))))
            cur = start.copy()
            continue
        for chunk in nums.reshape(-1, arity):
            if cmd == "H":
                pts = np.array([[chunk[0] + (cur[0] if relative else 0), cur[1]]])
                kind = "L"
            elif cmd == "V":
                pts = np.array([[cur[0], chunk[0] + (cur[1] if relative else 0)]])
                kind = "L"
            else:
                pts = chunk.reshape(-1, 2) + (cur if relative else 0)
                kind = cmd
            if kind == "M":
                start = pts[0].copy()
                # an implicit lineto follows repeated moveto pairs, as in SVG
                cmd = "L"
            segments.append((kind, pts))
            cur = pts[-1].copy()
    return segments


def _cubic_axis_roots(p0: float, p1: float, p2: float, p3: float) -> list[float]:
    # derivative of the cubic Bernstein form is a quadratic a t^2 + b t + c
    a = -3 * p0 + 9 * p1 - 9 * p2 + 3 * p3
    b = 6 * p0 - 12 * p1 + 6 * p2
    c = 3 * p1 - 3 * p0
    if abs(a) < 1e-12:
        return [] if abs(b) < 1e-12 else [-c / b]
    disc = b * b - 4 * a * c
    if disc < 0:
        return []
    sq = math.sqrt(disc)
    return [(-b + sq) / (2 * a), (-b - sq) / (2 * a)]


def _cubic_point(p: np.ndarray, t: float | np.ndarray) -> np.ndarray:
    t = np.asarray(t, dtype=np.float64)[..., None]
    mt = 1 - t
    return mt ** 3 * p[0] + 3 * mt ** 2 * t * p[1] + 3 * mt * t ** 2 * p[2] + t ** 3 * p[3]


def cubic_extrema_bounds(p: np.ndarray) -> np.ndarray:
    """Points (K, 2) whose bounding box is the exact box of the cubic with control points ``p`` (4, 2)."""
    ts = [0.0, 1.0]
    for axis in (0, 1):
        ts += [t for t in _cubic_axis_roots(*p[:, axis]) if 0 < t < 1]
    return _cubic_point(p, np.array(ts))


def path_bounds(segments: list[Segment]) -> tuple[float, float, float, float]:
    """``(left, top, width, height)`` of a path the way Fabric 7 measures it.

    Fabric bounds a quadratic ``Q c p`` as the cubic ``C c c p`` (not the true
    quadratic); ``pathOffset`` and so every position depends on this, hence we
    copy the rule instead of using the exact quadratic box.
    """
    pts: list[np.ndarray] = []
    cur = np.zeros(2)
    start = np.zeros(2)
    for kind, ctrl in segments:
        if kind == "M":
            cur = start = ctrl[0]
        elif kind == "L":
            pts += [start, ctrl[0]]
            cur = ctrl[0]
        elif kind == "C":
            pts.extend(cubic_extrema_bounds(np.vstack([cur, ctrl])))
            cur = ctrl[-1]
        elif kind == "Q":
            pts.extend(cubic_extrema_bounds(np.vstack([cur, ctrl[0], ctrl[0], ctrl[1]])))
            cur = ctrl[-1]
        elif kind == "Z":
            cur = start
    if not pts:
        return 0.0, 0.0, 0.0, 0.0
    arr = np.asarray(pts)
    lo, hi = arr.min(axis=0), arr.max(axis=0)
    return float(lo[0]), float(lo[1]), float(hi[0] - lo[0]), float(hi[1] - lo[1])


def _n_steps(ctrl: np.ndarray, max_step: float) -> int:
    length = float(np.linalg.norm(np.diff(ctrl, axis=0), axis=1).sum())
    return int(min(512, max(2, math.ceil(length / max_step))))


def flatten_subpaths(segments: list[Segment], matrix: np.ndarray, max_step: float = 0.5) -> list[np.ndarray]:
    """Apply the affine ``matrix`` (3, 3) to every control point, then flatten curves.

    Affine maps send Bézier curves to Bézier curves, so flattening after the
    transform gives steps of at most about ``max_step`` output units.  Returns
    one (N, 2) polyline per subpath.
    """
    def tf(p: np.ndarray) -> np.ndarray:
        return p @ matrix[:2, :2].T + matrix[:2, 2]

    rings: list[np.ndarray] = []
    current: list[np.ndarray] = []
    cur = np.zeros(2)
    start = np.zeros(2)

    def close() -> None:
        if current:
            rings.append(np.vstack(current))

    for kind, ctrl in segments:
        if kind == "M":
            close()
            current = []
            cur = start = tf(ctrl[0])
            current.append(cur[None])
            continue
        if not current:
            current.append(cur[None])
        if kind == "L":
            cur = tf(ctrl[0])
            current.append(cur[None])
        elif kind in ("Q", "C"):
            p = np.vstack([cur, tf(ctrl)])
            if kind == "Q":  # exact degree elevation of a quadratic to a cubic
                p = np.vstack([p[0], p[0] + 2 / 3 * (p[1] - p[0]), p[2] + 2 / 3 * (p[1] - p[2]), p[2]])
            n = _n_steps(p, max_step)
            current.append(_cubic_point(p, np.linspace(0, 1, n + 1)[1:]))
            cur = p[-1]
        elif kind == "Z":
            close()
            current = []
            cur = start
    close()
    return rings
