"""Coded concepts for segments: an ROI label -> segmented property category and type.

Labels naming a common finding get their SNOMED CT code (category
*Morphologically Abnormal Structure*); any other label gets a local code in
the private coding scheme ``99EQUIGUARD`` (the ``99`` prefix is DICOM's
convention for local schemes) whose meaning is the label itself, so nothing
is guessed and the label survives a round trip.
"""

from __future__ import annotations

import hashlib
import re

from highdicom.sr import CodedConcept
from pydicom.sr.codedict import codes

__all__ = ["segment_codes", "LOCAL_SCHEME", "CATEGORY"]

LOCAL_SCHEME = "99EQUIGUARD"
CATEGORY = codes.SCT.MorphologicallyAbnormalStructure
_KNOWN = {
    "lesion": codes.SCT.Lesion, "tumour": codes.SCT.Neoplasm, "tumor": codes.SCT.Neoplasm,
    "neoplasm": codes.SCT.Neoplasm, "mass": codes.SCT.Mass, "nodule": codes.SCT.Nodule,
    "edema": codes.SCT.Edema, "oedema": codes.SCT.Edema, "necrosis": codes.SCT.Necrosis,
    "fibrosis": codes.SCT.Fibrosis, "pulmonary fibrosis": codes.SCT.Fibrosis, "cyst": codes.SCT.Cyst,
    "effusion": codes.SCT.Effusion, "pneumothorax": codes.SCT.Pneumothorax,
}


def _local_value(label: str) -> str:
    """A CodeValue (SH, at most 16 characters) for a label: its slug, or a slug prefix plus a hash."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", label.strip()).strip("-").upper() or "LABEL"
    if len(slug) <= 16:
        return slug
    return f"{slug[:7]}-{hashlib.sha1(label.encode()).hexdigest()[:8].upper()}"


def segment_codes(label: str) -> tuple[CodedConcept, CodedConcept]:
    """(segmented property category, segmented property type) of an ROI label."""
    known = _KNOWN.get(" ".join(label.lower().split()))
    category = CodedConcept(CATEGORY.value, CATEGORY.scheme_designator, CATEGORY.meaning)
    if known is not None:
        return category, CodedConcept(known.value, known.scheme_designator, known.meaning)
    return category, CodedConcept(_local_value(label), LOCAL_SCHEME, label.strip()[:64])
