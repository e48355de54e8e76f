"""De-identification of the source headers a SEG or SR is built from, consistent within one export.

highdicom copies the patient and study modules of the source images into
every SEG and SR and references the sources' UIDs.  In de-identified mode
the source headers are rewritten before highdicom sees them, so everything
it copies is already clean:

* PatientName / PatientID become ``ANON^<n>`` / ``ANON<n>`` (one number per
  original patient within the export);
* every other person name, date, time and date-time is emptied, and the
  identifying texts of :data:`core.io.DICOM_PHI_ATTRIBUTES` (and a few more)
  are removed; private elements are dropped;
* every UID outside the DICOM standard's own root (1.2.840.10008) is replaced
  by a new UID derived from it and a random per-export secret, so one study
  keeps one Study Instance UID across all files of the export but the
  mapping cannot be recomputed afterwards.
"""

from __future__ import annotations

import copy
import hashlib
import secrets

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import generate_uid

from core.io import DICOM_PHI_ATTRIBUTES

__all__ = ["Pseudonymizer"]

_STANDARD_ROOT = "1.2.840.10008."
_REMOVE = frozenset(DICOM_PHI_ATTRIBUTES) - {"PatientName", "PatientID", "StudyInstanceUID", "SeriesInstanceUID",
                                             "SOPInstanceUID", "FrameOfReferenceUID"} | {
    "OtherPatientIDs", "OtherPatientNames", "OtherPatientIDsSequence", "PatientAddress", "PatientTelephoneNumbers",
    "PatientMotherBirthName", "MedicalRecordLocator", "EthnicGroup", "PatientComments", "AdditionalPatientHistory",
    "InstitutionalDepartmentName", "PhysiciansOfRecord", "NameOfPhysiciansReadingStudy", "RequestingPhysician",
    "IssuerOfPatientID", "PatientWeight", "PatientSize", "ImageComments", "RequestAttributesSequence",
    "ReferencedPatientSequence", "ReferencedStudySequence", "ProtocolName", "AcquisitionDateTime"}
_EMPTY_VRS = frozenset({"PN", "DA", "DT", "TM"})
_PIXELS = frozenset({"PixelData", "FloatPixelData", "DoubleFloatPixelData"})


class Pseudonymizer:
    """One export's consistent replacement of identifiers (a fresh random secret per instance)."""

    def __init__(self, secret: bytes | None = None) -> None:
        self._secret = secret if secret is not None else secrets.token_bytes(32)
        self._patients: dict[str, int] = {}

    def uid(self, original: str) -> str:
        """The replacement of ``original`` (same input -> same output within this export)."""
        value = str(original)
        if value.startswith(_STANDARD_ROOT):
            return value
        digest = hashlib.sha256(self._secret + value.encode()).hexdigest()
        return generate_uid(entropy_srcs=[digest])

    def patient_number(self, patient_key: str) -> int:
        return self._patients.setdefault(patient_key, len(self._patients) + 1)

    def dataset(self, ds: Dataset) -> Dataset:
        """A de-identified copy of a source header (pixel data is not needed and dropped).

        Elements kept unchanged are shared with ``ds`` (neither is modified).
        """
        out = self._clean(ds)
        if hasattr(ds, "file_meta"):
            out.file_meta = copy.deepcopy(ds.file_meta)
        n = self.patient_number(f"{ds.get('PatientID', '')}|{ds.get('PatientName', '')}")
        replaced = {"PatientName": f"ANON^{n:04d}", "PatientID": f"ANON{n:04d}"}
        # type 2 attributes highdicom copies: present, empty
        replaced.update(dict.fromkeys(("PatientBirthDate", "PatientSex", "StudyDate", "StudyTime",
                                       "ReferringPhysicianName", "AccessionNumber", "StudyID"), ""))
        for keyword, value in replaced.items():
            if keyword in out:
                del out[keyword]  # a fresh element: the old one may be shared with ``ds``
            setattr(out, keyword, value)
        if hasattr(out, "file_meta") and "MediaStorageSOPInstanceUID" in out.file_meta:
            out.file_meta.MediaStorageSOPInstanceUID = self.uid(out.file_meta.MediaStorageSOPInstanceUID)
        return out

    def _clean(self, ds: Dataset) -> Dataset:
        """A new dataset without private, overlay, pixel and identifying elements; names, dates and UIDs replaced."""
        out = Dataset()
        for elem in ds:
            # overlays and curves (60xx, 50xx) can carry burned-in text; pixels are not needed
            if elem.tag.is_private or elem.tag.group & 0xFF00 in (0x6000, 0x5000) or elem.keyword in _REMOVE \
                    or elem.keyword in _PIXELS:
                continue
            if elem.VR == "SQ":
                out.add(DataElement(elem.tag, "SQ", Sequence([self._clean(item) for item in elem.value])))
            elif elem.VR in _EMPTY_VRS:
                out.add(DataElement(elem.tag, elem.VR, ""))
            elif elem.VR == "UI" and elem.value:
                values = elem.value if elem.VM > 1 else [elem.value]
                mapped = [self.uid(v) for v in values]
                out.add(DataElement(elem.tag, "UI", mapped if elem.VM > 1 else mapped[0]))
            else:
                out.add(elem)
        return out
