"""``equiguard.viewer.roi_viewer`` used as a widget outside the Annotate page, in a real chromium.

A small app mounts the viewer with a read-only overlay ROI (its own colour
and name), a model-proposed ROI, and a pixel budget that forces the display
to be subsampled; its ``on_save`` writes what it received to a JSON file.
This is the API the reader-study page builds on.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from browser import CHROMIUM, browser, page  # noqa: F401 - fixtures
from browser import fit_transform, streamlit_server, viewer_state, wait_for_viewer

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian chromium at /usr/bin/chromium (make browser)"),
]

APP = '''
import json
import sys
from pathlib import Path

import numpy as np
import streamlit as st

from core.io import load_image
from core.viewer import EditResult, SaveReport, encode_planes, roi_payload
from equiguard.viewer import roi_viewer

image_path, out = sys.argv[1], Path(sys.argv[2])
planes = encode_planes(load_image(image_path), None, max_pixels=40_000)  # 300 x 400 = 120k px: shown at 1/2
yy, xx = np.mgrid[:300, :400]
overlay = roi_payload("reader B", mask=(xx - 300) ** 2 + (yy - 80) ** 2 < 30 ** 2, colour="#00ff00",
                      name="reader B")
proposal = roi_payload("nodule", geometry={"type": "rect", "x": 40, "y": 150, "width": 60, "height": 40},
                       name="model-1")


def on_save(request):
    out.write_text(json.dumps([{"cid": e.cid, "proposal": e.proposal, "label": e.label, "area": int(e.mask.sum()),
                                "geometry": e.geometry} for e in request.edits]))
    return SaveReport(request.save_id, [EditResult(e.cid, "saved", 100 + i) for i, e in enumerate(request.edits)])


st.title("harness")
roi_viewer(planes, key="harness", uid="grid", overlays=[overlay], proposals=[proposal], on_save=on_save,
           height=500)
'''


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    from PIL import Image

    folder = tmp_path_factory.mktemp("harness")
    yy, xx = np.mgrid[:300, :400]
    Image.fromarray((xx * 90 + yy).astype(np.uint16)).save(folder / "grid.png")
    (folder / "app.py").write_text(APP)
    out = folder / "saved.json"
    with streamlit_server(folder, folder / "server.log", script=folder / "app.py",
                          args=[str(folder / "grid.png"), str(out)]) as url:
        yield url, out


def test_overlays_proposals_and_subsampled_display_through_the_python_api(page, harness):
    url, out = harness
    page.goto(url)
    state = wait_for_viewer(page, "harness", uid="grid")
    notice = page.locator(".eg-notice")
    assert notice.is_visible() and "1/2 resolution" in notice.inner_text() and "full resolution" in notice.inner_text()
    assert page.evaluate("() => { const c = window.__equiguardViewers.harness.imageCanvas; return [c.width, c.height]; }") == [200, 150]
    rois = state["rois"]
    assert [(r["proposal"], r["dirty"]) for r in rois] == [("model-1", False)]  # the overlay is not editable
    s, left, top = fit_transform(state["stageRect"], (300, 400))  # ROI coordinates stay full resolution

    def screen(x, y):
        return round(left + s * x), round(top + s * y)

    page.locator(".eg-tool[data-tool=select]").click()
    page.mouse.click(*screen(300, 80))  # on the overlay: nothing to select
    assert viewer_state(page, "harness")["selected"] is None
    page.mouse.click(*screen(70, 170))  # on the proposal
    assert viewer_state(page, "harness")["selected"] == rois[0]["cid"]
    page.keyboard.press("a")
    page.locator(".eg-tool[data-tool=rect]").click()
    page.locator(".eg-label").fill("lesion")
    page.locator(".eg-label").press("Enter")
    a, b = screen(200, 200), screen(260, 240)
    page.mouse.move(*a)
    page.mouse.down()
    page.mouse.move(*b, steps=5)
    page.mouse.up()
    page.locator(".eg-save").click()
    deadline = time.monotonic() + 30
    while not out.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    saved = json.loads(out.read_text())
    assert [(e["proposal"], e["label"]) for e in saved] == [("model-1", "nodule"), (None, "lesion")]
    assert saved[0]["area"] == 60 * 40 and saved[0]["geometry"]["type"] == "rect"
    x0, y0 = (a[0] - left) / s, (a[1] - top) / s
    x1, y1 = (b[0] - left) / s, (b[1] - top) / s
    assert abs(saved[1]["geometry"]["x"] - x0) < 1e-6 and abs(saved[1]["geometry"]["width"] - (x1 - x0)) < 1e-6
    assert abs(saved[1]["area"] - (x1 - x0) * (y1 - y0)) <= 0.03 * (x1 - x0) * (y1 - y0)
    page.wait_for_function("() => !window.__equiguardViewers.harness.session.pendingSave")
    assert "2 ROI(s) saved" in page.locator(".eg-status").inner_text()
