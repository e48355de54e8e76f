"""Small, de-identified metadata dictionaries for DICOM datasets.

An ALLOW-list, not a deny-list: only the attributes named below can reach the
metadata, so a private tag or an unexpected free-text field never leaks.
Nothing on :data:`DICOM_SAFE_ATTRIBUTES` identifies a patient, a date, a
place, a person or an instance (no UIDs, no dates/times, no free-text
descriptions).  Manufacturer and model name are kept: the DICOM Basic
Application Confidentiality Profile (PS3.15 E.1) retains them, and readers
need them to judge intensity conventions.  Patient sex/age and every other
attribute in :data:`DICOM_PHI_ATTRIBUTES` appear only with ``include_phi``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DICOM_PHI_ATTRIBUTES", "DICOM_SAFE_ATTRIBUTES", "dicom_metadata", "dicom_text", "format_value"]

DICOM_SAFE_ATTRIBUTES: tuple[str, ...] = (
    "Modality",
    "BodyPartExamined",
    "ImageType",
    "Manufacturer",
    "ManufacturerModelName",
    "Rows",
    "Columns",
    "NumberOfFrames",
    "SamplesPerPixel",
    "PhotometricInterpretation",
    "BitsAllocated",
    "BitsStored",
    "PixelRepresentation",
    "PixelSpacing",
    "ImagerPixelSpacing",
    "SliceThickness",
    "SpacingBetweenSlices",
    "ImageOrientationPatient",
    "PatientPosition",
    "ViewPosition",
    "ImageLaterality",
    "RescaleSlope",
    "RescaleIntercept",
    "RescaleType",
    "WindowCenter",
    "WindowWidth",
    "VOILUTFunction",
    "KVP",
    "ConvolutionKernel",
    "MagneticFieldStrength",
    "RepetitionTime",
    "EchoTime",
    "FlipAngle",
    "DoseUnits",
    "LossyImageCompression",
)

DICOM_PHI_ATTRIBUTES: tuple[str, ...] = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "PatientAge",
    "StudyDate",
    "StudyTime",
    "SeriesDate",
    "AcquisitionDate",
    "ContentDate",
    "InstitutionName",
    "InstitutionAddress",
    "StationName",
    "ReferringPhysicianName",
    "PerformingPhysicianName",
    "OperatorsName",
    "AccessionNumber",
    "StudyID",
    "StudyDescription",
    "SeriesDescription",
    "DeviceSerialNumber",
    "StudyInstanceUID",
    "SeriesInstanceUID",
    "SOPInstanceUID",
    "FrameOfReferenceUID",
)

_MAX_CHARS = 80

# PS3.5 6.2: the longest value each text VR may hold (per value of a multi-valued element).
_TEXT_VR_LENGTH = {"AE": 16, "AS": 4, "CS": 16, "DA": 8, "DS": 16, "DT": 26, "IS": 12, "LO": 64, "LT": 10240,
                   "PN": 324, "SH": 16, "ST": 1024, "TM": 16, "UC": 1024, "UI": 64, "UR": 1024, "UT": 10240}


def dicom_text(ds: Any, keyword: str) -> str:
    """A text attribute's value, or ``""`` when it is absent or implausible for its VR.

    A damaged length field makes a value swallow the attributes after it
    (element headers and all), so a value longer than its VR allows or
    holding control characters is treated as damage and never shown.
    Multiple values are joined with ``\\``.
    """
    try:
        elem = ds.data_element(keyword)
        if elem is None or elem.VR not in _TEXT_VR_LENGTH or elem.value is None:
            return ""
        value = elem.value
        values = list(value) if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue" else [value]
        texts = [str(v).strip() for v in values]
    except Exception:  # noqa: BLE001 - a malformed element counts as absent
        return ""
    limit = _TEXT_VR_LENGTH[elem.VR]
    if any(len(t) > limit or not t.isprintable() for t in texts):
        return ""
    return "\\".join(texts)


def format_value(value: Any) -> str:
    """A DICOM value as one short line (multi-values joined by ``\\``)."""
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        text = "\\".join(format_value(v) for v in value)
    elif isinstance(value, float):
        text = f"{value:g}"
    else:
        text = str(value)
    text = " ".join(text.split())
    return text if len(text) <= _MAX_CHARS else text[: _MAX_CHARS - 1] + "…"


def dicom_metadata(ds: Any, include_phi: bool = False) -> dict[str, str]:
    """The allow-listed attributes present in ``ds`` (a pydicom Dataset), as strings.

    Adds ``TransferSyntax`` and ``SOPClass`` by *name* (standard class
    names, not instance identifiers).  With ``include_phi`` the identifying
    attributes of :data:`DICOM_PHI_ATTRIBUTES` are added as well.
    """
    out: dict[str, str] = {}
    names = DICOM_SAFE_ATTRIBUTES + (DICOM_PHI_ATTRIBUTES if include_phi else ())
    for keyword in names:
        try:
            elem = ds.data_element(keyword)
            value = None if elem is None else elem.value
        except Exception:  # noqa: BLE001 - a malformed element is simply left out
            continue
        if value is None or value == "":
            continue
        # Text is shown only when plausible for its VR; binary numbers (US, FL, ...) always are.
        text = format_value(dicom_text(ds, keyword)) if elem.VR in _TEXT_VR_LENGTH else format_value(value)
        if text:
            out[keyword] = text
    meta = getattr(ds, "file_meta", None)
    syntax = getattr(meta, "TransferSyntaxUID", None) if meta is not None else None
    if syntax is not None:
        out["TransferSyntax"] = f"{syntax.name}" if syntax.keyword and syntax.is_transfer_syntax else "unknown"
    try:
        sop = ds.get("SOPClassUID")
        if sop is not None and getattr(sop, "keyword", ""):  # named only when pydicom's dictionary knows it
            out["SOPClass"] = sop.name
    except Exception:  # noqa: BLE001 - a damaged UID element is left out
        pass
    return out
