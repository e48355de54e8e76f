"""Streamlit AppTest: every page renders over a demo workspace, and the main interactions work."""

from __future__ import annotations

import time

import pytest
from streamlit.testing.v1 import AppTest

from conftest import REPO_ROOT

APP = str(REPO_ROOT / "app.py")
PAGES = ["pages/home.py", "pages/annotate.py", "pages/agreement.py", "pages/fewshot.py", "pages/symmetry.py",
         "pages/attack_lab.py", "pages/robustness.py"]


@pytest.fixture
def studio_env(studio_workspace, monkeypatch):
    monkeypatch.setenv("EQUIGUARD_WORKSPACE", str(studio_workspace.root))
    return studio_workspace


def _open(page: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    if page is not None:
        at.switch_page(page)
        at.run()
    return at


def test_app_entry_renders_home(studio_env):
    at = _open()
    assert not at.exception
    assert at.title[0].value == "EquiGuard Studio"


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_without_exception(studio_env, page):
    at = _open(page)
    assert not at.exception, [e.value for e in at.exception]
    assert at.title, f"{page} shows no title"


def _caption_with(at: AppTest, text: str) -> list[str]:
    return [c.value for c in at.caption if text in c.value]


def test_attack_lab_controls_change_the_outputs(studio_env):
    at = _open("pages/attack_lab.py")
    assert not at.exception
    at.slider(key="al_eps").set_value(0.0).run()
    assert not at.exception
    zero = _caption_with(at, "‖δ‖∞")
    assert zero and all("‖δ‖∞ = 0.0/255" in c for c in zero)
    at.slider(key="al_eps").set_value(16.0).run()
    at.radio(key="al_method").set_value("pgd").run()
    assert not at.exception
    big = _caption_with(at, "‖δ‖∞")
    # PGD's projection keeps the perturbation on the ε-ball boundary for at least one pixel.
    assert big and all("‖δ‖∞ = 16.0/255" in c for c in big)
    options = at.selectbox(key="al_image").options
    at.selectbox(key="al_image").set_value(options.index(next(o for o in options if o.startswith("digits test #3"))))
    at.run()
    assert not at.exception
    assert _caption_with(at, "image: digits test #3")
    at.slider(key="al_rotation").set_value(90).run()
    at.slider(key="al_scale").set_value(0.7).run()
    assert not at.exception and _caption_with(at, "‖δ‖∞ = 16.0/255")
    # The worst case (the default) and the single strong attacks run from the page too.
    for method, label in (("apgd-t", "APGD-T"), ("autoattack", "Worst case (ensemble)")):
        at.radio(key="al_method").set_value(method).run()
        assert not at.exception and _caption_with(at, label)
    # No digits model is offered for a phantom with a stored ROI: one line says why.
    options = at.selectbox(key="al_image").options
    phantom = next(i for i, o in enumerate(options) if "brain-phantom-00" in o)
    at.selectbox(key="al_image").set_value(phantom).run()
    assert not at.exception and not _caption_with(at, "‖δ‖∞")
    (warning,) = [w.value for w in at.warning if "No model" in w.value]
    assert "digits images" in warning and "brain-phantom" in warning


def test_bad_upload_shows_a_one_line_error(studio_env):
    at = _open("pages/annotate.py")
    at.file_uploader(key="ann_upload").set_value(("scan.dcm", b"DICM this is not a DICOM file", "application/dicom"))
    at.run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "\n" not in errors[0] and "scan.dcm" in errors[0]
    uploads = studio_env.root / "images" / "uploads"
    assert not uploads.exists() or not any(uploads.iterdir())  # nothing half-written


def test_training_job_from_the_page_reports_progress_and_registers_the_model(studio_env):
    from core.jobs import get_job, job_events, list_jobs, wait_job

    at = _open("pages/symmetry.py")
    at.multiselect[0].set_value(["baseline"])
    at.number_input[0].set_value(1)  # epochs
    at.number_input[1].set_value(7)  # seed: a run name no other test uses
    at.button[0].click().run()
    assert not at.exception
    (job,) = [j for j in list_jobs(studio_env, kind="train") if "--seed" in j.argv and "7" in j.argv]
    deadline_job = wait_job(studio_env, job.id, timeout=240)
    assert deadline_job.status == "done", (deadline_job.error, deadline_job.status)
    events = job_events(studio_env, job.id)
    assert events and events[-1]["step"] == events[-1]["total"] and "loss" in events[-1]["metrics"]
    at.run()
    assert not at.exception
    table = at.dataframe[0].value
    assert "baseline-digits-s7" in list(table["name"])
    assert get_job(studio_env, job.id).progress == 1.0


def test_home_demo_button_is_idempotent(studio_env):
    from core.store import AnnotationStore

    before = len(AnnotationStore(studio_env).list_images())
    at = _open()
    at.checkbox[0].uncheck()  # no background training in this test
    at.button[0].click().run()
    assert not at.exception
    assert any("Demo workspace ready" in s.value for s in at.success)
    assert len(AnnotationStore(studio_env).list_images()) == before
    assert at.metric[0].value == str(before)


def test_annotate_volume_and_multiframe_controls(studio_env):
    """The page's own controls; the viewer itself is driven in a real browser (test_viewer_browser.py)."""
    at = _open("pages/annotate.py")
    values = [str(p) for p in sorted((studio_env.root / "images" / "demo").iterdir())]
    volume = next(v for v in values if v.endswith("anatomical.nii"))
    at.selectbox(key="ann_file").set_value(volume).run()
    assert not at.exception
    at.radio(key="ann_axis").set_value("coronal").run()
    assert not at.exception and any("41 coronal slices" in c.value for c in at.caption)
    at.radio(key="ann_convention").set_value("neurological").run()
    assert not at.exception
    clip = next(v for v in values if v.endswith("examples_ybr_color.dcm"))
    at.selectbox(key="ann_file").set_value(clip).run()
    assert not at.exception and any("30 frames" in c.value for c in at.caption)
    at.selectbox(key="ann_file").set_value(next(v for v in values if v.endswith("CT_small.dcm"))).run()
    assert not at.exception and any("2-D image · 128×128 px" in c.value for c in at.caption)


def test_cancel_button_stops_a_running_job(studio_env):
    from core.jobs import CANCELLED, RUNNING, get_job, launch_job
    from core.jobs.process import pid_alive

    job_id = launch_job(studio_env, "check", ["jobs", "heartbeat", "--steps", "100000", "--interval", "0.05"],
                        title="long heartbeat")
    deadline = time.monotonic() + 30
    while get_job(studio_env, job_id).status != RUNNING and time.monotonic() < deadline:
        time.sleep(0.1)
    at = _open()
    assert any("long heartbeat" in m.value for m in at.markdown)
    at.button(key=f"home-cancel-{job_id}").click().run()
    assert not at.exception
    job = get_job(studio_env, job_id)
    assert job.status == CANCELLED and not pid_alive(job.pid)
