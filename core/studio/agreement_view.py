"""What the Agreement page draws: the pairwise-Dice heat map and each reader's outline on an image."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.studio.outlines import READER_COLORS, draw_outlines, to_rgb8

__all__ = ["ReaderPanel", "dice_heatmap", "reader_panels", "reader_colors"]


@dataclass
class ReaderPanel:
    """One picture: ``title`` and an (H, W, 3) uint8 image with outlines."""

    title: str
    image: np.ndarray


def reader_colors(names: list[str]) -> dict[str, tuple[int, int, int]]:
    """A fixed colour per reader (by sorted name), shared by every panel and the legend."""
    return {n: READER_COLORS[k % len(READER_COLORS)] for k, n in enumerate(sorted(names))}


def dice_heatmap(report):
    """Plotly heat map of the readers' mean pairwise Dice (blank where two readers share no image)."""
    import plotly.graph_objects as go

    names = report.reader_names
    matrix = np.where(np.isnan(report.dice_matrix), None, np.round(report.dice_matrix, 3)).tolist()
    fig = go.Figure(go.Heatmap(z=matrix, x=names, y=names, zmin=0, zmax=1, colorscale="Viridis",
                               colorbar=dict(title="Dice"), hovertemplate="%{y} vs %{x}: Dice %{z}<extra></extra>",
                               texttemplate="%{z:.2f}"))
    fig.update_layout(height=120 + 50 * len(names), margin=dict(l=10, r=10, t=30, b=10),
                      yaxis=dict(autorange="reversed"), title="mean pairwise Dice")
    return fig


def _zoom(masks: list[np.ndarray], shape: tuple[int, int], min_side: int = 48) -> tuple[slice, slice]:
    """A square-ish window around all readers' ROIs: their bounding box plus half its size on each side."""
    union = np.logical_or.reduce(masks) if masks else np.zeros(shape, bool)
    if not union.any():
        return slice(None), slice(None)
    box = []
    for axis, size in enumerate(shape):
        idx = np.flatnonzero(union.any(1 - axis))
        half = max((idx[-1] - idx[0] + 1) // 2, (min_side - (idx[-1] - idx[0] + 1)) // 2, 0)
        box.append(slice(max(int(idx[0]) - half, 0), min(int(idx[-1]) + 1 + half, size)))
    return tuple(box)


def reader_panels(store, image_id: int, label: str | None = None,
                  colors: dict[str, tuple[int, int, int]] | None = None) -> tuple[list[ReaderPanel], str | None]:
    """One panel per reader with their ROI outline, then all outlines together; plus a note if pixels are missing.

    The pixels come from the image's source file with its default window,
    zoomed to the readers' ROIs; when the file is gone the outlines are drawn
    on black and the note says so.
    """
    from core.errors import EquiGuardError
    from core.io import load_image
    from core.store import decode_mask
    from core.studio.planes import plane_of, render_plane

    rec = store.get_image(image_id)
    note = None
    try:
        pixels = render_plane(load_image(rec.source_path), plane_of(rec))
    except (EquiGuardError, OSError):
        pixels, note = np.zeros(rec.shape, np.float32), "source file not available: outlines on black"
    masks: dict[str, np.ndarray] = {}
    for row in store.live_roi_masks([image_id], label):
        mask = decode_mask(row.mask_png)
        masks[row.reader] = masks[row.reader] | mask if row.reader in masks else mask
    box = _zoom(list(masks.values()), rec.shape)
    base = to_rgb8(np.asarray(pixels)[box])
    masks = {n: m[box] for n, m in masks.items()}
    readers = sorted(set(masks) | {lab.annotator for lab in store.reader_labels(image_id)})
    colors = {**reader_colors(readers), **(colors or {})}
    empty = np.zeros(base.shape[:2], bool)
    panels = [ReaderPanel(f"{n} ({int(masks.get(n, empty).sum())} px)",
                          draw_outlines(base, [(masks.get(n, empty), colors[n])])) for n in readers]
    panels.append(ReaderPanel("all readers", draw_outlines(base, [(masks.get(n, empty), colors[n]) for n in readers])))
    return panels, note
