"""A synthetic CT series written with pydicom (a phantom, NOT clinical data): for tests, benchmarks and demos."""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["write_ct_series"]


def write_ct_series(folder: str | Path, n_slices: int, shape: tuple[int, int] = (64, 64), *,
                    spacing: tuple[float, float] = (0.7, 0.7), thickness: float = 2.5, seed: int = 0,
                    patient_name: str = "PHANTOM^SYNTHETIC", patient_id: str = "PHANTOM-0") -> list[Path]:
    """Write ``n_slices`` single-frame CT files (one series, one frame of reference) with a bright sphere.

    Returns the file paths in slice order.  Every UID is derived from ``seed``,
    so the same call writes the same files.
    """
    import pydicom
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    study, series, frame = (generate_uid(entropy_srcs=[f"{seed}-{k}"]) for k in ("study", "series", "for"))
    rows, cols = shape
    zz, yy, xx = np.mgrid[:n_slices, :rows, :cols]
    sphere = ((zz - n_slices / 2) * thickness) ** 2 + ((yy - rows / 2) * spacing[0]) ** 2 + \
        ((xx - cols / 2) * spacing[1]) ** 2 < (0.3 * min(rows * spacing[0], cols * spacing[1])) ** 2
    paths = []
    for k in range(n_slices):
        sop = generate_uid(entropy_srcs=[f"{seed}-sop-{k}"])
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = CTImageStorage, sop
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, sop
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = study, series, frame
        ds.PatientName, ds.PatientID, ds.PatientBirthDate, ds.PatientSex = patient_name, patient_id, "19700101", "O"
        ds.StudyDate, ds.StudyTime, ds.StudyID, ds.AccessionNumber = "20240102", "101010", "1", "ACC-0"
        ds.ReferringPhysicianName, ds.InstitutionName = "", "SYNTHETIC PHANTOM INSTITUTE"
        ds.Modality, ds.SeriesNumber, ds.InstanceNumber = "CT", 1, k + 1
        ds.Manufacturer = "EquiGuard synthetic"
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.ImagePositionPatient = [0.0, 0.0, k * thickness]
        ds.PixelSpacing, ds.SliceThickness = list(spacing), thickness
        ds.Rows, ds.Columns, ds.SamplesPerPixel, ds.PhotometricInterpretation = rows, cols, 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.RescaleIntercept, ds.RescaleSlope = -1024, 1
        pixels = (1024 + 40 + rng.normal(0, 10, (rows, cols)) + 300 * sphere[k]).astype(np.int16)
        ds.PixelData = pixels.tobytes()
        path = folder / f"slice{k:04d}.dcm"
        pydicom.dcmwrite(path, ds, enforce_file_format=True)
        paths.append(path)
    return paths
