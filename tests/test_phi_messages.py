"""No patient data in any message: damaged DICOM files full of PHI, grepped everywhere a message goes.

Every text attribute (names, IDs, dates, institutions, descriptions, free
text, in sequences too) of real DICOM files of every transfer syntax is set
to a distinctive pattern built from the letters Q, X, Z, J, except the
de-identification allow-list (``DICOM_SAFE_ATTRIBUTES``: manufacturer, model,
kernel...) and the window explanations, which the studio shows by design;
those keep their values, and damaging *their* lengths must not leak the
PHI that follows them either.  The files are
damaged many ways (element lengths that run over the following attributes,
including the SOP Class UID case of issue 12; truncation; flipped bytes;
pixel data removed) and loaded.  No trigram of the pattern may appear in:
each LoadError, the summary ``inspect`` prints for files that still load,
the CLI's stderr, a background job's log and record, and the studio's error
element.
"""

from __future__ import annotations

import io
import re
import struct
import subprocess
import sys
import warnings

import numpy as np
import pydicom
import pytest
from pydicom import config

from benchmarks.hostile import DICOM_SEEDS, seed_files
from conftest import REPO_ROOT, run_cli
from core.errors import LoadError
from core.io import DICOM_SAFE_ATTRIBUTES, image_summary, load_image

PHI = "QXZJ"
PHI_RE = re.compile("|".join({(PHI * 2)[i:i + 3] for i in range(4)}), re.IGNORECASE)
_TEXT_VRS = {"PN", "LO", "SH", "ST", "LT", "UT", "DA", "TM", "DT", "AS", "AE", "UC"}
_LENGTH = {"DA": 8, "TM": 6, "AS": 4, "AE": 16, "SH": 16, "DT": 14}
_IDENTIFYING = ("PatientName", "PatientID", "PatientBirthDate", "InstitutionName", "InstitutionAddress",
                "ReferringPhysicianName", "OperatorsName", "StudyDescription", "SeriesDescription", "AccessionNumber",
                "StudyID", "OtherPatientIDs", "PatientAddress", "ImageComments")
_SHOWN = set(DICOM_SAFE_ATTRIBUTES) | {"WindowCenterWidthExplanation", "LUTExplanation"}
N_FLIPS, N_CUTS = 12, 12


def leaks(text: str) -> list[str]:
    return PHI_RE.findall(text)


def _phi_value(vr: str) -> str:
    n = _LENGTH.get(vr, 24)
    value = (PHI * 8)[:n]
    return f"{value[:8]}^{value[:7]}" if vr == "PN" else value


def with_phi(data: bytes) -> bytes:
    """``data`` with every text attribute (and the usual identifying ones) holding the PHI pattern."""
    out = io.BytesIO()
    with config.disable_value_validation(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(io.BytesIO(data))
        for keyword in _IDENTIFYING:
            setattr(ds, keyword, "")
        for elem in ds.iterall():
            if elem.VR in _TEXT_VRS and elem.keyword not in _SHOWN:
                elem.value = _phi_value(elem.VR)
        ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def _length_fields(data: bytes, value: bytes) -> list[tuple[int, str]]:
    """(offset, struct format) of the length field in front of each occurrence of ``value``."""
    found, start = [], 0
    while (at := data.find(value, start)) >= 0:
        start = at + 1
        if at >= 2 and struct.unpack_from("<H", data, at - 2)[0] in (len(value), len(value) + 1):
            found.append((at - 2, "<H"))
        elif at >= 4 and struct.unpack_from("<I", data, at - 4)[0] in (len(value), len(value) + 1):
            found.append((at - 4, "<I"))
    return found


def damaged(name: str, data: bytes, rng: np.random.Generator) -> list[tuple[str, bytes]]:
    """Many damaged copies of one PHI-laden file."""
    ds = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True)
    cases = []
    # Lengths that run over what follows: every PHI value, and the UIDs and sizes before them.
    values = [_phi_value(vr).encode() for vr in ("PN", "LO", "DA", "SH")]
    values += [str(ds.SOPClassUID).encode(), str(ds.file_meta.TransferSyntaxUID).encode()]
    values += [str(ds.get(k)).encode() for k in ("Manufacturer", "Modality", "ImageType") if ds.get(k)]
    for value in values:
        for offset, fmt in _length_fields(data, value)[:3]:
            old = struct.unpack_from(fmt, data, offset)[0]
            for new in (old + 2, old + 37, old + 301, 0xFFFF):
                buf = bytearray(data)
                struct.pack_into(fmt, buf, offset, new)
                cases.append((f"{name}/length{len(cases)}", bytes(buf)))
    # The case: an unknown SOP Class UID whose length swallows the patient module, no pixel data.
    buf = bytearray(data.replace(b"\xe0\x7f\x10\x00", b"\xe0\x7f\x11\x00"))
    at = buf.find(b"\x08\x00\x16\x00", 132)  # (0008,0016) SOP Class UID of the data set
    explicit = buf[at + 4: at + 6] == b"UI"
    fmt, field = ("<H", at + 6) if explicit else ("<I", at + 4)
    size = struct.unpack_from(fmt, buf, field)[0]
    buf[at + 8: at + 8 + size] = b"9" * size  # a UID pydicom's dictionary does not know
    for extra in (64, 200, 2000):
        struct.pack_into(fmt, buf, field, min(size + extra, 0xFFFF))
        cases.append((f"{name}/sop_overrun{extra}", bytes(buf)))
    cases.append((f"{name}/no_pixels", data.replace(b"\xe0\x7f\x10\x00", b"\xe0\x7f\x11\x00")))
    for k, cut in enumerate(np.linspace(140, len(data) - 1, N_CUTS).astype(int)):
        cases.append((f"{name}/cut{k}", data[:cut]))
    for k in range(N_FLIPS):
        buf = bytearray(data)
        for pos in rng.integers(0, len(buf), size=rng.integers(1, 9)):
            buf[pos] ^= int(rng.integers(1, 256))
        cases.append((f"{name}/flip{k}", bytes(buf)))
    return cases


@pytest.fixture(scope="module")
def phi_files():
    files = {name: with_phi(data) for name, data in seed_files().items() if name in DICOM_SEEDS}
    for name, data in files.items():
        assert name == "image_dfl.dcm" or PHI.encode() in data  # the PHI really is in the files
    return files


@pytest.fixture(scope="module")
def damaged_files(phi_files):
    rng = np.random.default_rng(12)
    return [case for name, data in phi_files.items() for case in damaged(name, data, rng)]


def test_no_loader_message_or_summary_holds_phi(phi_files, damaged_files):
    messages, summaries = [], []
    for label, data in damaged_files:
        try:
            image = load_image(data, name="case.dcm")
        except LoadError as exc:
            messages.append(str(exc))
        else:
            summaries.append(repr(image_summary(image)))
    print(f"\nPHI test: {len(phi_files)} files x {len(damaged_files) // len(phi_files)} mutations = "
          f"{len(damaged_files)} inputs: {len(messages)} LoadError messages, {len(summaries)} loads grepped")
    assert len(messages) > 200 and len(summaries) > 20
    assert all("\n" not in m and len(m) <= 300 for m in messages)
    assert [m for m in messages if leaks(m)] == []
    assert [s for s in summaries if leaks(s)] == []
    # The identifying metadata is there only when asked for (the pattern is found then).
    clean = load_image(phi_files["CT_small.dcm"], include_phi=True)
    assert leaks(repr(clean.metadata)) and not leaks(repr(load_image(phi_files["CT_small.dcm"]).metadata))


def _stderr_of_cli_runs(paths) -> str:
    """``core.cli.main(["inspect", path])`` for every path in one subprocess: the CLI's stderr."""
    code = "import sys\nfrom core.cli import main\nfor p in sys.argv[1:]:\n    main(['inspect', p])\n"
    done = subprocess.run([sys.executable, "-c", code, *map(str, paths)], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=600)
    return done.stderr


def test_cli_stderr_and_job_log_hold_no_phi(damaged_files, tmp_path, workspace):
    from core.jobs import get_job, job_log, launch_job, wait_job

    paths = []
    for k, (label, data) in enumerate(damaged_files[::3]):
        path = tmp_path / f"case{k:04d}.dcm"
        path.write_bytes(data)
        paths.append(path)
    stderr = _stderr_of_cli_runs(paths)
    assert stderr.count("error: ") > 50 and not leaks(stderr)
    overrun = next(p for p, (label, _) in zip(paths, damaged_files[::3]) if "sop_overrun" in label)
    single = run_cli("inspect", str(overrun))
    assert single.returncode == 2 and single.stderr.startswith("error: ") and not leaks(single.stderr)
    jobs = [launch_job(workspace, "inspect", ["inspect", str(p)]) for p in (overrun, paths[1], paths[-1])]
    for job_id in jobs:
        job = wait_job(workspace, job_id, timeout=120)
        log = (workspace.jobs_dir / str(job_id) / "log.txt").read_text()
        assert job.status in ("done", "failed") and not leaks(log) and not leaks(job.error or "")
        assert not leaks(job_log(workspace, job_id)) and not leaks(repr(get_job(workspace, job_id)))


def test_studio_error_element_holds_no_phi(damaged_files, studio_workspace, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("EQUIGUARD_WORKSPACE", str(studio_workspace.root))
    at = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("pages/attack_lab.py")
    at.run()
    shown = 0
    picks = [c for c in damaged_files if "sop_overrun" in c[0]][:6] + [c for c in damaged_files if "length" in c[0]][::60]
    for label, data in picks:
        at.file_uploader(key="al_upload").set_value(("scan.dcm", data, "application/dicom")).run()
        assert not at.exception
        errors = [e.value for e in at.error]
        shown += len(errors)
        assert not any(leaks(e) for e in errors), errors
    assert shown >= 3
