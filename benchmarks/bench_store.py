"""Annotation store: the price of ``synchronous=FULL`` (ours) vs ``NORMAL`` (peer), same run.

Saves 512 x 512 ROIs through :meth:`AnnotationStore.add_roi` with the store's
FULL durability and with the connection switched to NORMAL, and prints saves/s
and the ratio.  ``python -m benchmarks.bench_store [--quick]``
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from core.store import AnnotationStore


def _rate(synchronous: str, n: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        store = AnnotationStore(Path(tmp) / "bench.sqlite")
        store._conn().execute(f"PRAGMA synchronous = {synchronous}")
        image = store.add_image("ab" * 32, "phantom", shape=(512, 512))
        yy, xx = np.mgrid[:512, :512]
        masks = [(yy - 256) ** 2 + (xx - 200 - i % 100) ** 2 < 80 ** 2 for i in range(8)]
        t0 = time.perf_counter()
        for i in range(n):
            store.add_roi(image, "lesion", masks[i % len(masks)], annotator="bench")
        elapsed = time.perf_counter() - t0
        assert store.integrity_check() == "ok"
        store.close()
    return n / elapsed


def main(quick: bool = False) -> dict:
    n = 40 if quick else 300
    full, normal = _rate("FULL", n), _rate("NORMAL", n)
    print(f"add_roi 512x512: FULL {full:7.1f} saves/s, NORMAL {normal:7.1f} saves/s, "
          f"ratio FULL/NORMAL {full / normal:4.2f}")
    return {"saves": n, "full_per_s": full, "normal_per_s": normal, "ratio_full_over_normal": full / normal}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    main(parser.parse_args().quick)
