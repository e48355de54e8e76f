"""Fuzz-style robustness: mutated real files load cleanly or raise LoadError, nothing else.

Run with ``-s`` to see the outcome counts per format and per mutation.
"""

from __future__ import annotations

import io
from collections import Counter
from pathlib import Path

import nibabel as nib
import numpy as np
from PIL import Image
from pydicom.data import get_testdata_file

from core.errors import LoadError
from core.io import MedicalImage, load_image

CASES_PER_SEED_FILE = 60
FUZZ_MAX_PIXELS = 2**22  # mutated headers may promise huge images; keep the test's memory small


def _seed_files() -> dict[str, bytes]:
    nib_data = Path(nib.__file__).parent / "tests" / "data"
    rng = np.random.default_rng(7)
    png16 = io.BytesIO()
    Image.fromarray(rng.integers(0, 65536, (24, 20), dtype=np.uint16)).save(png16, "PNG")
    jpeg = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (24, 20, 3), dtype=np.uint8)).save(jpeg, "JPEG")
    tiff = io.BytesIO()
    Image.fromarray(rng.integers(0, 4096, (16, 12), dtype=np.uint16)).save(tiff, "TIFF")
    files = {name: Path(get_testdata_file(name)).read_bytes()
             for name in ("CT_small.dcm", "MR_small_RLE.dcm", "SC_rgb_jpeg_gdcm.dcm", "rtdose.dcm",
                          "JPEG2000.dcm")}
    files.update({
        "anatomical.nii": (nib_data / "anatomical.nii").read_bytes(),
        "example4d.nii.gz": (nib_data / "example4d.nii.gz").read_bytes(),
        "png16": png16.getvalue(),
        "jpeg": jpeg.getvalue(),
        "tiff": tiff.getvalue(),
    })
    return files


def _mutate(data: bytes, rng: np.random.Generator) -> tuple[str, bytes]:
    buf = bytearray(data)
    kind = ("truncate", "flip", "zero_header", "splice", "flip_header")[rng.integers(5)]
    if kind == "truncate":
        return kind, bytes(buf[: rng.integers(0, len(buf))])
    if kind in ("flip", "flip_header"):
        limit = min(len(buf), 600) if kind == "flip_header" else len(buf)
        for pos in rng.integers(0, limit, size=rng.integers(1, 9)):
            buf[pos] ^= int(rng.integers(1, 256))
        return kind, bytes(buf)
    if kind == "zero_header":
        start = int(rng.integers(0, min(len(buf), 400)))
        stop = start + int(rng.integers(1, 200))
        buf[start:stop] = bytes(len(buf[start:stop]))
        return kind, bytes(buf)
    at = int(rng.integers(0, len(buf)))
    garbage = rng.integers(0, 256, size=int(rng.integers(1, 300)), dtype=np.uint8).tobytes()
    return kind, bytes(buf[:at]) + garbage + bytes(buf[at + int(rng.integers(0, 300)):])


def _valid(image: MedicalImage) -> bool:
    out = image.render(image.n_frames - 1)
    return bool(np.isfinite(out).all() and out.min() >= 0 and out.max() <= 1)


def test_mutated_files_never_escape_load_error():
    rng = np.random.default_rng(20251125)
    outcomes: Counter = Counter()
    by_mutation: Counter = Counter()
    escaped = []
    for name, data in _seed_files().items():
        for _ in range(CASES_PER_SEED_FILE):
            kind, mutated = _mutate(data, rng)
            try:
                image = load_image(mutated, name=name, max_pixels=FUZZ_MAX_PIXELS)
            except LoadError as exc:
                outcome = "LoadError"
                assert "\n" not in str(exc)
            except Exception as exc:  # noqa: BLE001 - recording escapes is the point of this test
                outcome = "escaped"
                escaped.append(f"{name}/{kind}: {type(exc).__name__}: {exc}")
            else:
                outcome = "ok" if _valid(image) else "invalid"
            outcomes[outcome] += 1
            by_mutation[(kind, outcome)] += 1
    total = sum(outcomes.values())
    print(f"\nfuzz: {total} cases, loaded OK {outcomes['ok']}, LoadError {outcomes['LoadError']}, "
          f"escaped {outcomes['escaped']}, invalid render {outcomes['invalid']}")
    print("fuzz by mutation:", dict(sorted(by_mutation.items())))
    assert not escaped, escaped[:5]
    assert outcomes["invalid"] == 0
    assert outcomes["ok"] > 0 and outcomes["LoadError"] > 0  # the mutations must exercise both paths
