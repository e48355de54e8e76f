"""Symmetry models page: training on a medical phantom from the page lands in the registry with class names."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from conftest import REPO_ROOT


def test_train_on_a_phantom_from_the_page(studio_workspace, monkeypatch):
    from core.jobs import list_jobs, wait_job

    monkeypatch.setenv("EQUIGUARD_WORKSPACE", str(studio_workspace.root))
    at = AppTest.from_file(str(REPO_ROOT / "app.py"), default_timeout=120)
    at.run()
    at.switch_page("pages/symmetry.py")
    at.run()
    assert not at.exception
    at.multiselect[0].set_value(["equivariant"])
    at.selectbox[0].set_value("cxr-phantom")
    at.selectbox[2].set_value(64)
    at.checkbox[0].check()
    at.number_input[0].set_value(1)  # epochs
    at.number_input[1].set_value(11)  # seed: a run name no other test uses
    at.button[0].click().run()
    assert not at.exception
    (job,) = [j for j in list_jobs(studio_workspace, kind="train") if "cxr-phantom" in j.argv and "11" in j.argv]
    assert job.argv[job.argv.index("--size") + 1] == "64" and "--spurious" in job.argv
    done = wait_job(studio_workspace, job.id, timeout=240)
    assert done.status == "done", (done.error, done.status)
    at.run()
    assert not at.exception
    table = at.dataframe[0].value
    row = table[table["name"] == "equivariant-cxr-phantom-64-s11"].iloc[0]
    assert row["classes"] == "Nodule/Mass, Pulmonary fibrosis, Lung Opacity" and row["input"] == "1×64×64"
    assert row["dataset"] == "cxr-phantom:spurious=1" and row["kind"] == "classifier"
