"""Clinical exchange of readers' ROIs with radiology systems (OHIF, 3D Slicer, PACS).

Public API::

    export_dicom(store, folder, image_ids=None, deidentified=True, structured_reports=True) -> DicomExport
        # DICOM SEG per reader and series (+ TID 1500 SR with areas in mm²); NIfTI masks for NIfTI sources
    import_seg(store, seg_path, reader=None, candidates=None) -> ExchangeImport
        # SEG frames -> ROIs on the workspace images with the referenced SOP Instance UIDs
    import_label_map(store, nifti_path, {value: label}, reader=..., target=None, axis="axial") -> ExchangeImport
        # NIfTI label map -> ROIs on the one workspace volume with the same shape and affine
    parse_label_names("1=necrotic,2=edema") -> {1: "necrotic", 2: "edema"}
    Pseudonymizer()          # consistent replacement of identifiers within one export
    segment_codes(label) -> (category, type) coded concepts
"""

from core.exchange.codes import LOCAL_SCHEME, segment_codes
from core.exchange.deid import Pseudonymizer
from core.exchange.frames import DicomSource, dicom_index, frames_to_planes, open_source, planes_to_frames
from core.exchange.nifti_import import import_label_map, parse_label_names
from core.exchange.seg_export import (EXPORT_FORMAT, DicomExport, build_segmentation, export_dicom, person_name,
                                      reader_from_person_name)
from core.exchange.seg_import import ExchangeImport, import_seg
from core.exchange.sr_export import frame_spacing, measurement_report

__all__ = [
    "export_dicom", "DicomExport", "build_segmentation", "person_name", "reader_from_person_name", "EXPORT_FORMAT",
    "measurement_report", "frame_spacing",
    "import_seg", "ExchangeImport", "import_label_map", "parse_label_names",
    "Pseudonymizer", "segment_codes", "LOCAL_SCHEME",
    "DicomSource", "open_source", "dicom_index", "planes_to_frames", "frames_to_planes",
]
