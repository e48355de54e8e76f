"""The Annotate page's viewer in headless chromium: time to first image, W/L frame rate, slice scrolling.

- **Open**: selecting pydicom-data's 2k x 2k 16-bit radiograph (``RG1_UNCI.dcm``, 1841 x 1955,
  MONOCHROME1) until the viewer has drawn it from its modality values, on the real Annotate page;
  the peer is the old page's path (``load_image`` -> 8-bit rendering -> streamlit-drawable-canvas
  background, 640 px), measured interleaved in the same run, each on a cold cache (fresh copies).
- **W/L drag**: right-drag over the 2k x 2k image with Playwright's mouse; frames counted with
  ``requestAnimationFrame``, plus the viewer's own cost per W/L render.
- **Scroll**: ArrowDown through a 256 x 256 x 150 int16 volume, from the keydown to the next
  animation frame after the new slice was drawn.

``python -m benchmarks.bench_viewer [--quick]`` (needs /usr/bin/chromium).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

PEER_APP = '''
import sys
from pathlib import Path

import numpy as np
import streamlit as st
from PIL import Image
from streamlit_drawable_canvas import st_canvas

from core.io import load_image
from core.viewer import legacy_canvas_transform

folder = Path(sys.argv[1])
files = sorted(str(p) for p in folder.iterdir())
choice = st.selectbox("Image file", ["-"] + files, key="file", format_func=lambda p: Path(p).name)
if choice != "-":
    image = st.cache_resource(load_image)(choice)          # the old page: cached load_image,
    pixels = image.render(0)                                # 8-bit rendering with the default window,
    t = legacy_canvas_transform(pixels.shape)               # a canvas of at most 640 px,
    size = (round(pixels.shape[1] * t.scale_x), round(pixels.shape[0] * t.scale_y))
    arr = np.uint8(np.clip(np.nan_to_num(pixels), 0, 1) * 255 + 0.5)
    background = Image.fromarray(arr).convert("RGB").resize(size, Image.Resampling.LANCZOS)
    st_canvas(background_image=background, background_image_fit="stretch", width=size[0], height=size[1],
              drawing_mode="rect", key=f"canvas-{choice}")
'''

VIEWER_APP = '''
import sys
from pathlib import Path

import streamlit as st

from core.io import load_image
from core.viewer import encode_planes
from equiguard.viewer import roi_viewer

folder = Path(sys.argv[1])
files = sorted(str(p) for p in folder.iterdir())
choice = st.selectbox("Image file", ["-"] + files, key="file", format_func=lambda p: Path(p).name)
if choice != "-":
    image = st.cache_resource(load_image)(choice)
    roi_viewer(encode_planes(image), key="ann_viewer", uid=choice)
'''

# streamlit-drawable-canvas paints its background image on the first of its canvases (in a shadow
# root, which Playwright's locators pierce); old canvases are marked before each selection.
MARK_OLD = "(canvases) => canvases.forEach((c) => { c.__old = true; })"
NEW_PAINTED = """(canvases) => canvases.some((c) => {
    if (c.__old || !c.width || !c.height) return false;
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    for (let i = 0; i < d.length; i += 4 * 211) if (d[i + 3] > 0 && d[i] + d[i + 1] + d[i + 2] > 0) return true;
    return false; })"""


def _select(page, name: str) -> float:
    page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"], [data-testid="stSelectbox"]').first.click()
    option = page.get_by_role("option", name=name, exact=True)
    option.wait_for()
    t0 = time.perf_counter()
    option.click()
    return t0


def _open_minimal(page, name: str, uid: str) -> float:
    t0 = _select(page, name)
    page.wait_for_function(
        """(uid) => { const v = (window.__equiguardViewers || {}).ann_viewer;
            return v && v.data && v.uid === uid && v.debug().rendered; }""", arg=uid, timeout=60000, polling="raf")
    return time.perf_counter() - t0


def _open_ours(page, url: str, name: str, uid: str) -> tuple[float, dict]:
    """Seconds from the click to the drawn image, and the browser-side split (ms after the data arrived)."""
    clicked = page.evaluate("() => performance.now()")
    t0 = _select(page, name)
    page.wait_for_function(
        """(uid) => { const v = (window.__equiguardViewers || {}).ann_viewer;
            return v && v.data && v.uid === uid && v.debug().rendered; }""", arg=uid, timeout=60000, polling="raf")
    seconds = time.perf_counter() - t0
    timing = page.evaluate("() => window.__equiguardViewers.ann_viewer.timing")
    return seconds, {"server_and_transfer_ms": timing["data"] - clicked,
                     "values_fetched_ms": timing["values"] - timing["data"],
                     "drawn_ms": timing["drawn"] - timing["values"]}


def _open_peer(page, name: str) -> float:
    canvases = page.locator("canvas")
    canvases.evaluate_all(MARK_OLD)
    t0 = _select(page, name)
    deadline = time.monotonic() + 60
    while not canvases.evaluate_all(NEW_PAINTED):
        if time.monotonic() > deadline:
            raise TimeoutError("the old canvas never showed the image")
        time.sleep(0.005)
    return time.perf_counter() - t0


def _wl_drag(page, stage: dict, steps: int) -> dict:
    page.evaluate("""() => { window.__frames = []; const loop = (t) => { window.__frames.push(t);
        if (window.__frames.length < 100000) window.__rafId = requestAnimationFrame(loop); };
        window.__rafId = requestAnimationFrame(loop); }""")
    viewer = "window.__equiguardViewers.ann_viewer"
    before = page.evaluate(f"() => {viewer}.renderCount")
    x, y = round(stage["left"] + stage["width"] / 2), round(stage["top"] + stage["height"] / 2)
    page.mouse.move(x, y)
    page.mouse.down(button="right")
    t0 = page.evaluate("() => performance.now()")
    for i in range(1, steps + 1):
        page.mouse.move(x + 200 * np.sin(i / 9), y + 120 * np.cos(i / 13))
    page.mouse.up(button="right")
    page.wait_for_timeout(100)
    t1 = page.evaluate("() => performance.now()")
    renders = page.evaluate(f"() => {viewer}.renderCount") - before
    frames = page.evaluate("(t) => window.__frames.filter((f) => f >= t[0] && f <= t[1]).length", [t0, t1])
    costs = page.evaluate(f"() => {viewer}.frameTimes.slice(-{max(renders, 1)}).map((f) => f.ms)")
    page.evaluate("() => cancelAnimationFrame(window.__rafId)")
    seconds = (t1 - t0) / 1000
    return {"seconds": seconds, "renders": renders, "raf_frames": frames, "fps": renders / seconds,
            "render_ms_median": statistics.median(costs), "render_ms_p95": float(np.percentile(costs, 95))}


def _scroll(page, n: int) -> list[float]:
    return page.evaluate("""async (n) => { const v = window.__equiguardViewers.ann_viewer; const out = [];
        for (let i = 0; i < n; i++) {
            const want = v.session.slice + 1; const t0 = performance.now();
            v.ui.root.dispatchEvent(new KeyboardEvent('keydown', { key: 'ArrowDown', bubbles: true }));
            while (v.renderedKey !== `${v.uid}|${want}`) await new Promise((r) => setTimeout(r, 1));
            await new Promise((r) => requestAnimationFrame(() => r()));
            out.push(performance.now() - t0);
        } return out; }""", n)


def main(quick: bool = False) -> dict:
    import nibabel as nib
    import pydicom
    from playwright.sync_api import sync_playwright
    from pydicom.data import get_testdata_file

    from browser import CHROMIUM, CHROMIUM_ARGS, streamlit_server, wait_for_app, wait_for_viewer
    from core.store import sha256_file

    repeats = 2 if quick else 4
    radiograph = Path(get_testdata_file("RG1_UNCI.dcm"))
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        ours_ws, peer_dir, minimal_dir = tmp / "ws", tmp / "peer", tmp / "minimal"
        (ours_ws / "images").mkdir(parents=True)
        peer_dir.mkdir()
        minimal_dir.mkdir()
        names = [f"rg{i}_RG1_UNCI.dcm" for i in range(repeats)]
        for i, name in enumerate(names):  # fresh copies, one pixel apart: every open is cold, in every cache
            ds = pydicom.dcmread(radiograph)
            pixels = ds.pixel_array.copy()
            pixels[0, 0] += i + 1
            ds.PixelData = pixels.tobytes()
            ds.save_as(ours_ws / "images" / name)
            shutil.copy(ours_ws / "images" / name, peer_dir / name)
            shutil.copy(ours_ws / "images" / name, minimal_dir / name)
        rng = np.random.default_rng(0)
        volume = (rng.normal(0, 40, (256, 256, 150)).cumsum(axis=0) / 10).astype(np.int16)
        nib.save(nib.Nifti1Image(volume, np.diag([0.9, 0.9, 1.5, 1.0])), ours_ws / "images" / "a_volume.nii.gz")
        (tmp / "peer_app.py").write_text(PEER_APP)
        (tmp / "viewer_app.py").write_text(VIEWER_APP)
        opens_ours, opens_peer, opens_minimal, splits = [], [], [], []
        with streamlit_server(ours_ws, tmp / "ours.log") as ours_url, \
                streamlit_server(ours_ws, tmp / "peer.log", script=tmp / "peer_app.py",
                                 args=[str(peer_dir)]) as peer_url, \
                streamlit_server(ours_ws, tmp / "minimal.log", script=tmp / "viewer_app.py",
                                 args=[str(minimal_dir)]) as minimal_url, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            ours = browser.new_page(viewport={"width": 1400, "height": 1400})
            peer = browser.new_page(viewport={"width": 1400, "height": 1400})
            ours.goto(f"{ours_url}/annotate")
            wait_for_app(ours)
            wait_for_viewer(ours)  # the volume, first in the list: warms the page and the component
            minimal = browser.new_page(viewport={"width": 1400, "height": 1400})
            for tab, address in ((peer, peer_url), (minimal, minimal_url)):
                tab.goto(address)
                tab.wait_for_selector('[data-testid="stSelectbox"]')
            for name in names:  # interleaved: old canvas, minimal viewer app, Annotate page, ...
                opens_peer.append(_open_peer(peer, name))
                opens_minimal.append(_open_minimal(minimal, name, str(minimal_dir / name)))
                uid = f"{sha256_file(ours_ws / 'images' / name)}:None"
                seconds, split = _open_ours(ours, ours_url, name, uid)
                opens_ours.append(seconds)
                splits.append(split)
            stage = ours.evaluate("() => window.__equiguardViewers.ann_viewer.debug().stageRect")
            wl = _wl_drag(ours, stage, 60 if quick else 180)
            _select(ours, "a_volume.nii.gz")
            wait_for_viewer(ours, uid=f"{sha256_file(ours_ws / 'images' / 'a_volume.nii.gz')}:axial")
            ours.wait_for_function("() => window.__equiguardViewers.ann_viewer.stack.chunks.size >= 7")
            scroll = _scroll(ours, 20 if quick else 60)
            browser.close()
    result = {
        "open_2k_ours_s": opens_ours, "open_2k_old_canvas_s": opens_peer,
        "open_2k_viewer_minimal_app_s": opens_minimal,
        "open_ratio_minimal_viewer_over_old": statistics.median(opens_minimal) / statistics.median(opens_peer),
        "open_ratio_annotate_page_over_old": statistics.median(opens_ours) / statistics.median(opens_peer),
        "open_split_ms": splits,
        "wl_drag_2k": wl,
        "scroll_256x256x150_ms": {"median": statistics.median(scroll), "max": max(scroll), "n": len(scroll)},
    }
    def runs(values):
        return ", ".join(f"{v:.2f}" for v in values)

    print(f"open 2k x 2k 16-bit (median s, modality values included): old canvas path (8-bit) "
          f"{statistics.median(opens_peer):.3f} [{runs(opens_peer)}]; viewer in the same minimal app "
          f"{statistics.median(opens_minimal):.3f} [{runs(opens_minimal)}], ratio "
          f"{result['open_ratio_minimal_viewer_over_old']:.2f}; viewer on the full Annotate page "
          f"{statistics.median(opens_ours):.3f} [{runs(opens_ours)}], ratio {result['open_ratio_annotate_page_over_old']:.2f}")
    print("  viewer split (ms): " + "; ".join(
        f"page run+data {s['server_and_transfer_ms']:.0f}, values fetched {s['values_fetched_ms']:.0f}, "
        f"drawn {s['drawn_ms']:.0f}" for s in splits))
    print(f"W/L drag 2k x 2k: {wl['fps']:.1f} renders/s over {wl['seconds']:.2f} s ({wl['raf_frames']} rAF frames), "
          f"render cost median {wl['render_ms_median']:.1f} ms, p95 {wl['render_ms_p95']:.1f} ms")
    print(f"scroll 256x256x150: next slice shown in median {statistics.median(scroll):.1f} ms, "
          f"max {max(scroll):.1f} ms over {len(scroll)} slices")
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    main(parser.parse_args().quick)
