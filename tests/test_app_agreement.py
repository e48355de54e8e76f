"""The Agreement page and the session reader profile, driven with Streamlit's AppTest."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from conftest import REPO_ROOT
from core.store import AnnotationStore
from core.workspace import Workspace

APP = str(REPO_ROOT / "app.py")


def disc(shape, cy, cx, r):
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    return (yy - cy) ** 2 + (xx - cx) ** 2 < r * r


@pytest.fixture
def study(tmp_path, monkeypatch):
    """A workspace with three PNG images: two read by R1 and R2, one by R1 only."""
    ws = Workspace(tmp_path / "study")
    monkeypatch.setenv("EQUIGUARD_WORKSPACE", str(ws.root))
    store = AnnotationStore(ws)
    shape = (48, 48)
    ids = []
    for k in range(3):
        path = ws.root / "images" / f"scan-{k}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        buf = io.BytesIO()
        Image.fromarray(np.uint8(disc(shape, 24, 24, 15) * 120 + 40 + k)).save(buf, format="PNG")  # distinct files
        path.write_bytes(buf.getvalue())
        ids.append(store.add_image_file(path, shape=shape, display_name=path.name))
    store.add_roi(ids[0], "lesion", disc(shape, 24, 24, 10), annotator="R1")
    store.add_roi(ids[0], "lesion", disc(shape, 24, 25, 10), annotator="R2")
    store.add_roi(ids[1], "lesion", disc(shape, 20, 20, 8), annotator="R1")
    store.add_roi(ids[1], "lesion", disc(shape, 30, 30, 6), annotator="R2")
    store.add_roi(ids[2], "lesion", disc(shape, 24, 24, 10), annotator="R1")
    for image in ids[:2]:
        store.set_image_label(image, "nodule", "R1")
        store.set_image_label(image, "nodule" if image == ids[0] else "mass", "R2")
    return ws, store, ids


def _open() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page("pages/agreement.py")
    at.run()
    return at


def _metric(at, label):
    return next(m.value for m in at.metric if m.label == label)


def test_agreement_page_shows_tables_heatmap_and_worst_images(study):
    ws, store, ids = study
    at = _open()
    assert not at.exception, [e.value for e in at.exception]
    assert _metric(at, "Images compared") == "2" and _metric(at, "Readers") == "2"
    assert _metric(at, "Cohen's κ") == "0.000"  # one agreement of two: p_o = 0.5 = p_e
    readers = at.dataframe[0].value
    assert list(readers["reader"]) == ["R1", "R2"] and list(readers["pairs"]) == [2, 2]
    images = at.dataframe[1].value
    assert list(images["image"]) == [ids[1], ids[0]]  # worst first
    assert images["min Dice"].iloc[0] < 0.2 < 0.8 < images["min Dice"].iloc[1]
    assert any("scan-1.png" in m.value for m in at.markdown)
    captions = [c for img in at.image for c in img.captions]
    r1, r2 = (int(disc((48, 48), c, c, r).sum()) for c, r in ((20, 8), (30, 6)))
    assert captions[:3] == [f"R1 ({r1} px)", f"R2 ({r2} px)", "all readers"] and len(captions) == 6, captions


def test_reader_profile_is_chosen_once_and_bad_names_are_refused(study):
    ws, store, ids = study
    at = _open()
    at.text_input(key="reader_name").input("x" * 101)
    at.button[0].click().run()
    assert not at.exception
    assert [e.value for e in at.error] == ["reader name is 101 characters long; at most 100 are allowed"]
    assert "reader_profile" not in at.session_state and store.list_readers()[-1].name != "x" * 101
    at.text_input(key="reader_name").input("Dr Adj")
    at.radio(key="reader_role").set_value("adjudicator")
    at.button[0].click().run()
    assert not at.exception
    assert at.session_state["reader_profile"] == ("Dr Adj", "adjudicator")
    assert store.get_reader("Dr Adj").is_adjudicator
    assert any("Reading as **Dr Adj**" in c.value for c in at.sidebar.caption)


def test_blinded_readers_see_only_the_images_they_submitted(study):
    ws, store, ids = study
    store.set_workspace_blinded(True)
    store.submit_image(ids[0], "R1")
    at = _open()
    assert not at.exception
    assert any("choose a reader profile" in i.value for i in at.info)  # no profile: nothing blinded is shown
    at.text_input(key="reader_name").input("R1")
    at.button[0].click().run()
    assert not at.exception and _metric(at, "Images compared") == "1"
    assert list(at.dataframe[1].value["image"]) == [ids[0]]
