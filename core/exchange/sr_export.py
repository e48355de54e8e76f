"""A TID 1500 measurement report per reader: each ROI plane's area in mm², referencing its SEG frame.

The reader is the report's person observer.  One planar measurement group
per SEG frame (one ROI label on one source frame), its region given as that
SEG frame, with the area = pixels × row spacing × column spacing of the
source frame.  Frames of sources without a pixel spacing are left out of the
report (a measurement in mm² would be invented).
"""

from __future__ import annotations

import warnings

import numpy as np

from core.exchange.codes import segment_codes
from core.exchange.frames import functional_group

__all__ = ["measurement_report", "frame_spacing"]


def frame_spacing(header, frame: int = 0) -> tuple[float, float] | None:
    """(row, col) mm of a source frame from PixelSpacing (per-frame or shared groups, else top level)."""
    for item in (functional_group(header, frame, "PixelMeasuresSequence"), header):
        if item is not None and item.get("PixelSpacing") and all(float(v) > 0 for v in item.PixelSpacing):
            return float(item.PixelSpacing[0]), float(item.PixelSpacing[1])
    return None


def measurement_report(seg, headers: list, reader: str, series_number: int):
    """A highdicom ``Comprehensive3DSR`` (TID 1500) of one reader's ROIs in ``seg`` (built on ``headers``)."""
    import highdicom as hd
    from pydicom.sr.codedict import codes

    from core.exchange.seg_export import MANUFACTURER, person_name

    by_uid = {str(h.SOPInstanceUID): h for h in headers}
    labels = {int(s.SegmentNumber): str(s.get("SegmentDescription") or s.SegmentLabel) for s in seg.SegmentSequence}
    pixels = seg.pixel_array
    if pixels.ndim == 2:
        pixels = pixels[None]
    groups = []
    for index in range(int(seg.get("NumberOfFrames") or 1)):
        segment = int(functional_group(seg, index, "SegmentIdentificationSequence").ReferencedSegmentNumber)
        ref = functional_group(seg, index, "DerivationImageSequence").SourceImageSequence[0]
        uid = str(ref.ReferencedSOPInstanceUID)
        frame = int(ref.get("ReferencedFrameNumber") or 1)
        spacing = frame_spacing(by_uid[uid], frame - 1)
        if spacing is None:
            continue
        area = float(np.count_nonzero(pixels[index])) * spacing[0] * spacing[1]
        source = hd.sr.SourceImageForSegmentation(
            str(ref.ReferencedSOPClassUID), uid, [frame] if "ReferencedFrameNumber" in ref else None)
        label = labels[segment]
        groups.append(hd.sr.PlanarROIMeasurementsAndQualitativeEvaluations(
            tracking_identifier=hd.sr.TrackingIdentifier(uid=hd.UID(), identifier=f"{label[:50]} #{index + 1}"),
            referenced_segment=hd.sr.ReferencedSegmentationFrame(
                sop_class_uid=seg.SOPClassUID, sop_instance_uid=seg.SOPInstanceUID, frame_number=index + 1,
                segment_number=segment, source_image=source),
            finding_type=segment_codes(label)[1],
            measurements=[hd.sr.Measurement(name=codes.SCT.Area, value=round(area, 4),
                                            unit=codes.UCUM.SquareMillimeter)]))
    observer = hd.sr.ObserverContext(
        observer_type=codes.DCM.Person,
        observer_identifying_attributes=hd.sr.PersonObserverIdentifyingAttributes(name=person_name(reader)))
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_person_context=observer),
        procedure_reported=codes.SCT.Imaging, imaging_measurements=groups or None,
        title=codes.DCM.ImagingMeasurementReport)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return hd.sr.Comprehensive3DSR(
            evidence=[*headers, seg], content=report[0], series_instance_uid=hd.UID(), series_number=series_number,
            sop_instance_uid=hd.UID(), instance_number=1, manufacturer=MANUFACTURER["manufacturer"],
            is_complete=True)
