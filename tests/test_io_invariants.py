"""Properties every loaded image must have, over every bundled sample file.

Each pydicom and nibabel sample either loads - and then satisfies all the
invariants below - or is listed in EXPECTED_FAILURES and raises LoadError.
"""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest

from core.errors import LoadError
from core.io import AXES, MedicalImage, image_summary, load_image
from core.io.orientation import display_slice

DICOM_DIR = Path(pydicom.data.get_testdata_file("CT_small.dcm")).parent
NIFTI_DIR = Path(nib.__file__).parent / "tests" / "data"
SAMPLES = sorted(DICOM_DIR.glob("*.dcm")) + sorted(NIFTI_DIR.glob("*.nii*"))
# Not images (SR, RT plan, ECG...), preamble-less without pixels, damaged on
# purpose, undecodable here, NaN-containing or 6-D: each must be a LoadError.
EXPECTED_FAILURES = {
    "ExplVR_BigEndNoMeta.dcm", "ExplVR_LitEndNoMeta.dcm", "GDCMJ2K_TextGBR.dcm", "JPEG-lossy.dcm",
    "JPEG2000-embedded-sequence-delimiter.dcm", "MR_truncated.dcm", "UN_sequence.dcm", "badVR.dcm",
    "empty_charset_LEI.dcm", "meta_missing_tsyntax.dcm", "nested_priv_SQ.dcm", "no_meta.dcm",
    "no_meta_group_length.dcm", "priv_SQ.dcm", "reportsi.dcm", "reportsi_with_empty_number_tags.dcm",
    "rtplan.dcm", "rtplan_truncated.dcm", "rtstruct.dcm", "test-SR.dcm", "waveform_ecg.dcm",
    "resampled_anat_moved.nii", "row_major.dconn.nii",
}


def _check(image: MedicalImage) -> None:
    assert image.pixels.dtype == np.float32 and np.isfinite(image.pixels).all()
    assert not image.pixels.flags.writeable
    assert all(np.isfinite(s) and s > 0 for s in image.spacing)
    assert all(isinstance(k, str) and isinstance(v, str) and "\n" not in v for k, v in image.metadata.items())
    for i in {0, image.n_frames - 1}:
        out = image.render(i)
        expected = image.frame_shape
        assert out.shape == expected and out.dtype == np.float32
        assert np.isfinite(out).all() and out.min() >= 0 and out.max() <= 1
    assert (len(image.frame_shape) == 3) == image.is_rgb
    json.dumps(image_summary(image))
    if image.is_volume:
        rng = np.random.default_rng(0)
        for axis in AXES:
            middle = image.n_slices(axis) // 2
            plane = image.render(middle, axis=axis)
            assert plane.shape == image.slice(middle, axis).shape and plane.max() <= 1
            mask = rng.random(plane.shape) > 0.5
            volume = image.slices_to_volume({middle: mask}, axis)
            assert volume.sum() == mask.sum()
            np.testing.assert_array_equal(display_slice(volume, middle, axis), mask)


@pytest.mark.parametrize("path", SAMPLES, ids=[p.name for p in SAMPLES])
def test_sample_loads_with_invariants_or_load_error(path):
    if path.name in EXPECTED_FAILURES:
        with pytest.raises(LoadError):
            load_image(path)
    else:
        _check(load_image(path))
