"""The Agreement page over 500 images x 3 readers (goal: <= 2 s), and its core vs a naive peer.

Measures, in the same run:

* ``agreement_report`` (the core function the page calls), best of 3;
* a naive peer doing the same work the obvious way: full-image SciPy distance
  transforms per reader pair and ``np.percentile`` (MedPy/MONAI-style), on the
  same decoded masks; the ratio is ours / naive;
* the page itself with Streamlit's AppTest: cold (the store changed, so the
  cached report is recomputed) and warm (cached).

Images are 256 x 256 with a disc lesion per reader (centre jitter 3 px,
radius +-20 %), spacing 0.7 mm.  ``python -m benchmarks.bench_agreement [--quick]``
"""

from __future__ import annotations

import argparse
import io
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from core.store import AnnotationStore, PlaneRois
from core.workspace import Workspace

SIDE = 256
READERS = ("R1", "R2", "R3")


def build_study(root: Path, n_images: int, seed: int = 0) -> Workspace:
    """A workspace with ``n_images`` PNG images, each outlined and labelled by three readers."""
    from PIL import Image

    from core.store import sha256_bytes

    ws = Workspace(root)
    store = AnnotationStore(ws)
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:SIDE, :SIDE]
    folder = ws.root / "images"
    folder.mkdir(parents=True, exist_ok=True)
    items = []
    for k in range(n_images):
        cy, cx, r = rng.integers(60, 196), rng.integers(60, 196), rng.integers(10, 40)
        buf = io.BytesIO()
        Image.fromarray(np.uint8(40 + 150 * ((yy - cy) ** 2 + (xx - cx) ** 2 < r * r) + k % 7)).save(buf, "PNG")
        path = folder / f"scan{k:04d}.png"
        path.write_bytes(buf.getvalue())
        item = PlaneRois(dict(sha256=sha256_bytes(buf.getvalue()), source_path=str(path), shape=(SIDE, SIDE),
                              display_name=path.name, spacing=(0.7, 0.7)))
        for reader in READERS:
            mask = (yy - cy - rng.normal(0, 3)) ** 2 + (xx - cx - rng.normal(0, 3)) ** 2 < (r * rng.uniform(0.8, 1.2)) ** 2
            item.rois.append(("lesion", mask, reader, f"{k}-{reader}"))
        items.append(item)
    summary = store.add_planes_and_rois(items)
    for image_id in summary.image_ids:
        for reader in READERS:
            store.set_image_label(image_id, str(rng.choice(["nodule", "mass", "opacity"])), reader)
    store.close()
    return ws


def naive_pairs(store) -> int:
    """The peer: full-image SciPy EDT per directed pair and numpy percentiles, no crop, no reuse."""
    from scipy import ndimage

    from core.agreement import reader_masks, surface

    rows = store.live_roi_masks()
    n = 0
    for image_id, labels in reader_masks(rows).items():
        for masks in labels.values():
            names = sorted(masks)
            for i, a in enumerate(names):
                for b in names[i + 1:]:
                    x, y = masks[a], masks[b]
                    _ = 2 * (x & y).sum() / (x.sum() + y.sum()), (x & y).sum() / (x | y).sum()
                    sx, sy = surface(x), surface(y)
                    d_xy = ndimage.distance_transform_edt(~sy, sampling=(0.7, 0.7))[sx]
                    d_yx = ndimage.distance_transform_edt(~sx, sampling=(0.7, 0.7))[sy]
                    _ = max(np.percentile(d_xy, 95), np.percentile(d_yx, 95))
                    n += 1
    return n


def _best(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def page_seconds(ws: Workspace) -> tuple[float, float]:
    """(cold, warm) seconds of one AppTest run of the Agreement page."""
    from streamlit.testing.v1 import AppTest

    os.environ["EQUIGUARD_WORKSPACE"] = str(ws.root)
    app = Path(__file__).resolve().parents[1] / "app.py"
    at = AppTest.from_file(str(app), default_timeout=300)
    at.run()
    at.switch_page("pages/agreement.py")
    at.run()  # imports and first render
    assert not at.exception, [e.value for e in at.exception]
    # A new reader profile changes the store's revision, so the page's cached report is recomputed.
    AnnotationStore(ws).register_reader("benchmark observer")
    t0 = time.perf_counter()
    at.run()
    cold = time.perf_counter() - t0
    assert not at.exception and at.metric[0].value == str(len(AnnotationStore(ws).list_images()))
    t0 = time.perf_counter()
    at.run()
    return cold, time.perf_counter() - t0


def main(quick: bool = False) -> dict:
    from core.agreement import agreement_report

    n_images = 100 if quick else 500
    with tempfile.TemporaryDirectory() as tmp:
        ws = build_study(Path(tmp) / "ws", n_images)
        store = AnnotationStore(ws)
        ours = _best(lambda: agreement_report(store), 3)
        peer = _best(lambda: naive_pairs(store), 1 if not quick else 2)
        ours_again = _best(lambda: agreement_report(store), 2)  # interleaved: load can drift during a run
        report = agreement_report(store)
        cold, warm = page_seconds(ws)
        store.close()
    ours = min(ours, ours_again)
    pairs = len(report.pairs)
    print(f"agreement over {n_images} images x 3 readers ({pairs} pairs): core {ours:.3f} s, naive peer {peer:.3f} s, "
          f"ratio ours/peer {ours / peer:.2f}; page (AppTest) cold {cold:.3f} s, warm {warm:.3f} s "
          f"[goal <= 2 s: {'met' if cold <= 2.0 else 'NOT met'}]")
    print(f"  mean pairwise Dice {np.mean([p.dice for p in report.pairs]):.3f}, "
          f"{report.labels.headline[0]} {report.labels.headline[1]:.3f}")
    return {"images": n_images, "readers": 3, "pairs": pairs, "core_s": ours, "naive_peer_s": peer,
            "ratio_core_over_peer": ours / peer, "page_cold_s": cold, "page_warm_s": warm, "goal_s": 2.0,
            "load_average": os.getloadavg()[0]}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    main(parser.parse_args().quick)
