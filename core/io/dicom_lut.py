"""Modality LUT and VOI windows of a DICOM data set (PS3.3 C.11).

Stored values -> modality LUT (Modality LUT Sequence, else Rescale
Slope/Intercept; per-frame functional groups for enhanced objects) ->
modality units; RT dose grids are additionally scaled by Dose Grid Scaling
to Gy.  The windows the file proposes (VOI LUT Sequence, Window
Center/Width) become the image's windows.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from core.io.metadata import dicom_text
from core.io.window import VoiLut, Window

__all__ = ["functional_group", "modality_lut", "tag_windows"]


def functional_group(ds: Any, frame: int, sequence: str) -> Any | None:
    """Item 0 of ``sequence`` from the per-frame functional group, else the shared one."""
    for fg_key, idx in (("PerFrameFunctionalGroupsSequence", frame), ("SharedFunctionalGroupsSequence", 0)):
        groups = ds.get(fg_key)
        if groups and len(groups) > idx:
            items = groups[idx].get(sequence)
            if items:
                return items[0]
    return None


def _lut_values(item: Any, ds: Any) -> np.ndarray:
    """LUT Data as integers, whether stored as US values or as raw OW words."""
    value = item["LUTData"].value
    if isinstance(value, (bytes, bytearray)):
        little = ds.original_encoding[1]
        if little is None:
            little = ds.file_meta.TransferSyntaxUID.is_little_endian
        return np.frombuffer(value, dtype="<u2" if little else ">u2").astype(np.int64)
    return np.asarray(value, dtype=np.int64).reshape(-1)


def modality_lut(frames: np.ndarray, ds: Any) -> np.ndarray:
    """Stored values (N, H, W) -> modality units, float32, frame by frame."""
    out = np.empty(frames.shape, np.float32)
    top_lut = ds.get("ModalityLUTSequence")
    for i in range(frames.shape[0]):
        stored = frames[i]
        pvt = functional_group(ds, i, "PixelValueTransformationSequence")
        if top_lut:
            item = top_lut[0]
            n, first, _bits = (int(v) for v in item.LUTDescriptor)
            lut = _lut_values(item, ds).astype(np.float64)
            n = n or 65536
            idx = np.clip(stored.astype(np.int64) - first, 0, min(n, lut.size) - 1)
            out[i] = lut[idx]
            continue
        src = pvt if pvt is not None and "RescaleSlope" in pvt else ds
        if "RescaleSlope" in src or "RescaleIntercept" in src:
            slope = float(src.get("RescaleSlope", 1.0) or 1.0)
            intercept = float(src.get("RescaleIntercept", 0.0) or 0.0)
            out[i] = stored.astype(np.float64) * slope + intercept
        else:
            out[i] = stored
    if ds.get("Modality") == "RTDOSE" and ds.get("DoseGridScaling"):
        out *= np.float32(float(ds.DoseGridScaling))
    return out


def _voi_source(ds: Any) -> Any:
    return functional_group(ds, 0, "FrameVOILUTSequence") or ds


def tag_windows(ds: Any) -> list[Window]:
    """Windows the file itself proposes: VOI LUT Sequence first, then centre/width pairs."""
    src = _voi_source(ds)
    windows: list[Window] = []
    for item in ds.get("VOILUTSequence") or []:
        try:
            n, first, bits = (int(v) for v in item.LUTDescriptor)
            if first > 32767 and (ds.get("PixelRepresentation") == 1 or float(ds.get("RescaleIntercept", 0) or 0) < 0):
                # The first-mapped value is SS for signed input but often arrives as US.
                first -= 65536
            data = _lut_values(item, ds)
            n = n or 65536
            lut = VoiLut(first, bits, data[:n])
            name = dicom_text(item, "LUTExplanation") or "VOI LUT"
            windows.append(Window(first + lut.data.size / 2, float(lut.data.size), name, lut=lut))
        except (AttributeError, KeyError, TypeError, ValueError):
            continue  # a malformed LUT falls back to the windows below
    centers, widths = src.get("WindowCenter"), src.get("WindowWidth")
    if centers is not None and widths is not None:
        centers = list(centers) if not isinstance(centers, (int, float)) else [centers]
        widths = list(widths) if not isinstance(widths, (int, float)) else [widths]
        explain = dicom_text(src, "WindowCenterWidthExplanation").split("\\")
        function = (dicom_text(src, "VOILUTFunction") or "LINEAR").upper()
        for k, (c, w) in enumerate(zip(centers, widths)):
            try:
                name = explain[k] if k < len(explain) and explain[k] else f"DICOM window {k + 1}"
                windows.append(Window(float(c), float(w), name, function))
            except (TypeError, ValueError):  # an invalid centre/width pair is skipped
                continue
    return windows
