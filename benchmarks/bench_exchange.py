"""DICOM SEG export of a 150-slice volume with 3 labels (goal: <= 5 s), vs highdicom alone.

A synthetic 150-slice 512 x 512 CT series (written with pydicom, not clinical
data) carries three ROIs per slice from one reader: disjoint nested regions
like BraTS's necrosis / enhancing tumour / edema (``--overlap``: three
overlapping discs instead, which forces the slower per-segment stack).
Measured in the same run:

* ``export_dicom`` end to end (store -> de-identified SEG file, no SR), and with the TID 1500 SR;
* the peer: highdicom's ``Segmentation`` built and written the documented
  way, from a (150, 512, 512, 3) bool stack and the headers already in memory
  (reading, mapping and de-identifying excluded); the ratio is ours / peer.

``python -m benchmarks.bench_exchange [--quick]``
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np


LABELS = ("necrosis", "tumour", "edema")


def _masks(k: int, side: int, overlap: bool) -> list[np.ndarray]:
    """The three label masks of slice ``k``: nested rings (disjoint) or shifted discs (overlapping)."""
    yy, xx = np.mgrid[:side, :side]
    scale = side * (1 + 0.3 * np.sin(k / 20))
    if overlap:
        return [(yy - side / 2) ** 2 + (xx - side / 2 - 10 * j) ** 2 < (scale * (0.08 + 0.05 * j)) ** 2
                for j in range(3)]
    d2 = (yy - side / 2) ** 2 + (xx - side / 2) ** 2
    radii = [0.0] + [(scale * r) ** 2 for r in (0.05, 0.1, 0.16)]
    return [(d2 >= radii[j]) & (d2 < radii[j + 1]) for j in range(3)]


def _populate(root: Path, n_slices: int, side: int, overlap: bool = False):
    from core.exchange.synthetic import write_ct_series
    from core.io import load_image
    from core.store import AnnotationStore, PlaneRois
    from core.studio.planes import Plane, plane_fields
    from core.workspace import Workspace

    ws = Workspace(root)
    paths = write_ct_series(ws.root / "images" / "ct", n_slices, (side, side))
    items = []
    for k, path in enumerate(paths):
        item = PlaneRois(plane_fields(path, load_image(path), Plane(0, None)))
        for j, (label, mask) in enumerate(zip(LABELS, _masks(k, side, overlap))):
            item.rois.append((label, mask, "Dr A", f"{k}-{j}"))
        items.append(item)
    store = AnnotationStore(ws)
    store.add_planes_and_rois(items)
    return store, paths


def _highdicom_alone(paths: list[Path], side: int, out: Path, overlap: bool) -> float:
    """Peer floor: highdicom's documented usage, a (frames, rows, cols, segments) bool stack already in memory."""
    import highdicom as hd
    import pydicom
    from pydicom.sr.codedict import codes

    headers = [pydicom.dcmread(p, stop_before_pixels=True) for p in paths]
    stack = np.stack([np.stack(_masks(k, side, overlap), -1) for k in range(len(paths))])
    segments = [hd.seg.SegmentDescription(j + 1, name, codes.SCT.MorphologicallyAbnormalStructure, codes.SCT.Lesion,
                                          "MANUAL") for j, name in enumerate(LABELS)]
    t0 = time.perf_counter()
    seg = hd.seg.Segmentation(source_images=headers, pixel_array=stack, segmentation_type="BINARY",
                              segment_descriptions=segments, series_instance_uid=hd.UID(), series_number=1,
                              sop_instance_uid=hd.UID(), instance_number=1, manufacturer="peer",
                              manufacturer_model_name="peer", software_versions="1", device_serial_number="1")
    seg.save_as(out)
    return time.perf_counter() - t0


def main(quick: bool = False, overlap: bool = False) -> dict:
    from core.exchange import export_dicom

    n_slices, side = (30, 256) if quick else (150, 512)
    warnings.simplefilter("ignore")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        store, paths = _populate(tmp / "ws", n_slices, side, overlap)
        timings = {"ours_seg": [], "ours_seg_sr": [], "highdicom": []}
        for k in range(2):  # interleaved, best of two
            t0 = time.perf_counter()
            done = export_dicom(store, tmp / f"seg{k}", structured_reports=False)
            timings["ours_seg"].append(time.perf_counter() - t0)
            timings["highdicom"].append(_highdicom_alone(paths, side, tmp / f"peer{k}.dcm", overlap))
            t0 = time.perf_counter()
            export_dicom(store, tmp / f"segsr{k}", structured_reports=True)
            timings["ours_seg_sr"].append(time.perf_counter() - t0)
        size_mb = (tmp / "seg0" / done.seg_files[0]).stat().st_size / 2**20
        store.close()
    best = {k: min(v) for k, v in timings.items()}
    print(f"SEG export, {n_slices} slices {side}x{side}, 3 {'overlapping' if overlap else 'disjoint'} labels "
          f"({3 * n_slices} ROIs, {size_mb:.1f} MB): "
          f"ours {best['ours_seg']:.2f} s (with SR {best['ours_seg_sr']:.2f} s), highdicom alone "
          f"{best['highdicom']:.2f} s, ratio ours/highdicom {best['ours_seg'] / best['highdicom']:.2f} "
          f"[goal <= 5 s: {'met' if best['ours_seg'] <= 5 else 'NOT met'}]")
    return {"slices": n_slices, "side": side, "labels": 3, "overlapping_labels": overlap, "seg_mb": size_mb, **{f"{k}_s": v for k, v in best.items()},
            "ratio_ours_over_highdicom": best["ours_seg"] / best["highdicom"], "goal_s": 5.0,
            "load_average": os.getloadavg()[0]}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--overlap", action="store_true", help="three overlapping labels (the per-segment stack path)")
    args = parser.parse_args()
    main(args.quick, args.overlap)
