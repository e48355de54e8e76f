"""Peer oracle: Fabric.js 7 itself (the canvas component in a real chromium) renders our test objects.

The Annotate page now uses ``equiguard.viewer``; ``core.roi.fabric`` still reads the Fabric objects
the old canvas stored with its ROIs (``core.viewer.legacy``), so this oracle stays, with
streamlit-drawable-canvas as a test-only dependency.

Each object is drawn in solid black on a white canvas, with no visible stroke
but a non-zero ``strokeWidth`` (which still moves the origin), and the
screenshot is compared per object with our mask.  Only anti-aliased edge
pixels may differ.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from io import BytesIO
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from core.roi import CanvasTransform, mask_to_canvas_objects, object_to_mask

CHROMIUM = Path("/usr/bin/chromium")
W, H = 480, 360
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian chromium at /usr/bin/chromium (make browser)"),
]

APP = """
import json, os
import streamlit as st
from streamlit_drawable_canvas import st_canvas
objects = json.load(open(os.environ["ROI_ORACLE_OBJECTS"]))
st_canvas(initial_drawing={"version": "7.4.0", "objects": objects}, width=%d, height=%d,
          background_color="#ffffff", disabled=True, key="oracle", drawing_mode="rect")
""" % (W, H)

BLACK = {"fill": "#000000", "stroke": None}
BLOB = [["M", 0, 0], ["Q", 30, -20, 60, 0], ["Q", 80, 30, 60, 60], ["Q", 30, 80, 0, 60], ["Q", -20, 30, 0, 0], ["Z"]]
MEASURED_POINTS = [{"x": 40, "y": 39.2}, {"x": 200, "y": 49.2}, {"x": 180, "y": 199.2}, {"x": 50, "y": 179.2}]


def oracle_objects() -> list[dict]:
    yy, xx = np.mgrid[:H, :W]
    disc = (xx - 420) ** 2 + (yy - 310) ** 2 < 28 ** 2
    (outline,) = mask_to_canvas_objects(disc, CanvasTransform(), style={**BLACK, "strokeWidth": 2})
    return [
        # the rect tool's object after a move/resize/rotate
        {"type": "Rect", "originX": "left", "originY": "top", "left": 40, "top": 20, "width": 80, "height": 50,
         "strokeWidth": 8, "strokeUniform": True, "scaleX": 1.4, "scaleY": 0.8, "angle": 20, **BLACK},
        {"type": "Rect", "originX": "right", "originY": "bottom", "left": 330, "top": 90, "width": 60,
         "height": 40, "strokeWidth": 6, "scaleX": 1.2, "skewX": 25, "flipY": True, **BLACK},
        # the circle tool's object, then stretched and rotated
        {"type": "Circle", "originX": "left", "originY": "center", "left": 370, "top": 60, "radius": 30,
         "strokeWidth": 10, "scaleY": 1.5, "angle": 40, **BLACK},
        {"type": "Ellipse", "originX": "center", "originY": "center", "left": 90, "top": 190, "rx": 40, "ry": 20,
         "strokeWidth": 3, "angle": -30, "skewY": 15, **BLACK},
        {"type": "Triangle", "originX": 0.25, "originY": 0.75, "left": 220, "top": 200, "width": 60, "height": 50,
         "strokeWidth": 4, "flipX": True, "angle": 10, **BLACK},
        {"type": "Polygon", "originX": "center", "originY": "center", "left": 330, "top": 200,
         "points": MEASURED_POINTS, "strokeWidth": 3, "scaleX": 0.4, "scaleY": 0.35, "flipX": True, "flipY": True,
         "angle": 45, **BLACK},
        {"type": "Path", "originX": "left", "originY": "top", "left": 40, "top": 260, "path": BLOB,
         "strokeWidth": 5, "scaleX": 1.3, "angle": 5, **BLACK},
        {"type": "Line", "originX": "center", "originY": "center", "left": 220, "top": 310, "x1": -50, "y1": 15,
         "x2": 50, "y2": -15, "strokeWidth": 8, "fill": "#000000", "stroke": "#000000"},
        outline,
    ]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _render(objects: list[dict], tmp_path: Path) -> np.ndarray:
    from playwright.sync_api import sync_playwright

    (tmp_path / "app.py").write_text(APP)
    (tmp_path / "objects.json").write_text(json.dumps(objects))
    port = _free_port()
    env = dict(os.environ, ROI_ORACLE_OBJECTS=str(tmp_path / "objects.json"))
    cmd = [sys.executable, "-m", "streamlit", "run", str(tmp_path / "app.py"), "--server.port", str(port),
           "--server.headless", "true", "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
           "--server.fileWatcherType", "none"]
    with open(tmp_path / "server.log", "wb") as log:
        server = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, (tmp_path / "server.log").read_text()
            assert time.monotonic() < deadline, "streamlit did not start"
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2):
                    break
            except OSError:
                time.sleep(0.25)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"])
            page = browser.new_context(viewport={"width": 900, "height": 700}, device_scale_factor=1).new_page()
            page.goto(url)
            canvas = page.locator("canvas.lower-canvas").first
            canvas.wait_for(timeout=30000)
            # wait until every object has been painted (the last one is the outline polygon)
            page.wait_for_timeout(1500)
            png = canvas.screenshot()
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=15)
    return np.asarray(Image.open(BytesIO(png)).convert("L"))


def test_fabric_renders_what_our_masks_say(tmp_path):
    objects = oracle_objects()
    shot = _render(objects, tmp_path)
    assert shot.shape == (H, W)
    dark = shot < 128
    dark[:2], dark[-2:], dark[:, :2], dark[:, -2:] = False, False, False, False  # the canvas frame
    ours_all = np.zeros((H, W), dtype=bool)
    for index, obj in enumerate(objects):
        ours = object_to_mask(obj, (H, W))
        assert ours.sum() > 500, index
        ours_all |= ours
        near = ndimage.binary_dilation(ours, iterations=4)
        theirs = dark & near
        dice = 2 * (ours & theirs).sum() / (ours.sum() + theirs.sum())
        # only anti-aliased edge pixels may disagree; a half-pixel shift would flip ~perimeter / 2 pixels
        perimeter = (ours ^ ndimage.binary_erosion(ours)).sum()
        assert dice >= 0.98 and (ours ^ theirs).sum() <= 0.25 * perimeter + 4, (index, dice)
    assert (dark & ~ndimage.binary_dilation(ours_all, iterations=4)).sum() == 0  # nothing drawn elsewhere
