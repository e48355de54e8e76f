"""The Annotate page's viewer in a real chromium, driven with the mouse and the keyboard.

One Streamlit server for the module, over a workspace with a 16-bit PNG
(400 x 300), an asymmetric NIfTI volume (64 x 48 x 24, a bright block at the
patient's right, anterior, upper slices only) and pydicom-data's 2k x 2k
radiograph.  Where an ROI should land is worked out here, from the fit rule,
the documented zoom step (8 wheel notches = 4x) and the mouse positions: the
viewer's own transform is only compared against it, never used to compute it.
Screenshots go to ``tests/artifacts/``.
"""

from __future__ import annotations

import hashlib
import math
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from browser import CHROMIUM, browser, page  # noqa: F401 - fixtures
from browser import (choose_option, fit_transform, sign_in, streamlit_server, viewer_state, wait_for_app,
                     wait_for_viewer)
from conftest import ARTIFACTS

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian chromium at /usr/bin/chromium (make browser)"),
]

GRID = "a_grid.png"            # (H, W) = (300, 400), uint16 values x * 90 + y (grid_values)
VOLUME = "b_volume.nii.gz"     # (X, Y, Z) = (64, 48, 24), identity affine (RAS+)
RADIOGRAPH = "c_RG1_UNCI.dcm"  # 2k x 2k MONOCHROME1 computed radiograph
BLOCK = (slice(44, 56), slice(30, 40), slice(10, 24))  # bright voxels: patient's right, anterior, superior
ZOOM_NOTCH = 2 ** 0.25


def grid_values() -> np.ndarray:
    """The PNG's values, (300, 400): x * 90 + y."""
    yy, xx = np.mgrid[:300, :400]
    return xx * 90 + yy


@pytest.fixture(scope="module")
def viewer_workspace(tmp_path_factory):
    import nibabel as nib
    from PIL import Image
    from pydicom.data import get_testdata_file

    from core.workspace import Workspace

    ws = Workspace(tmp_path_factory.mktemp("viewer") / "workspace")
    folder = ws.root / "images"
    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray(grid_values().astype(np.uint16)).save(folder / GRID)
    volume = np.full((64, 48, 24), 100, np.int16)
    volume[BLOCK] = 1000
    nib.save(nib.Nifti1Image(volume, np.eye(4)), folder / VOLUME)
    shutil.copy(get_testdata_file("RG1_UNCI.dcm"), folder / RADIOGRAPH)
    _IMAGES[:] = [folder]
    return ws


_IMAGES: list[Path] = []  # the module workspace's image folder, for the helpers


@pytest.fixture(scope="module")
def url(viewer_workspace, tmp_path_factory):
    with streamlit_server(viewer_workspace.root, tmp_path_factory.mktemp("server") / "server.log") as address:
        yield address


@pytest.fixture
def store(viewer_workspace):
    from core.store import AnnotationStore

    return AnnotationStore(viewer_workspace)


# ----------------------------------------------------------------------------- helpers
def open_viewer(page, url: str, file: str = GRID, *, annotator: str | None = "reader-a",
                convention: str | None = None) -> dict:
    page.goto(f"{url}/annotate")
    wait_for_app(page)
    if annotator:
        sign_in(page, annotator)
    if convention:
        page.locator('[data-testid="stSidebar"]').get_by_text(convention, exact=True).click()
        wait_for_app(page)
    if file != GRID:
        choose_option(page, "Image file", file)
    from core.store import sha256_file

    folder = _IMAGES[0]
    axis = "axial" if file == VOLUME else None
    return wait_for_viewer(page, uid=f"{sha256_file(folder / file)}:{axis}")


def set_label(page, label: str) -> None:
    field = page.locator(".eg-label")
    field.fill(label)
    field.press("Enter")  # back to the viewer, which now has the keyboard


def drag(page, a, b, button: str = "left", steps: int = 8) -> None:
    page.mouse.move(*a)
    page.mouse.down(button=button)
    page.mouse.move(*b, steps=steps)
    page.mouse.up(button=button)


def save_and_wait(page, store, predicate, timeout: float = 30.0):
    page.locator(".eg-save").click()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            page.wait_for_function("() => !window.__equiguardViewers.ann_viewer.session.pendingSave")
            wait_for_app(page)
            return found
        time.sleep(0.2)
    raise AssertionError(f"nothing saved; viewer says {page.locator('.eg-status').inner_text()!r}")


def rois_labelled(store, label: str):
    return [roi for rec in store.list_images() for roi in store.list_rois(rec.id, label=label)]


def image_hash(page) -> str:
    data = page.evaluate("""() => { const v = window.__equiguardViewers.ann_viewer;
        const c = v.imageCanvas; return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data
        .filter((_, i) => i % 4 === 0 && (i / 4) % 7 === 0)); }""")
    return hashlib.sha1(bytes(data)).hexdigest()


def capsule(shape, a, b, r) -> np.ndarray:
    """Pixels whose centres lie within r of the segment a-b (the swept disc), in image pixels."""
    yy, xx = np.mgrid[:shape[0], :shape[1]] + 0.5
    a, b = np.asarray(a, float), np.asarray(b, float)
    d = b - a
    t = np.clip(((xx - a[0]) * d[0] + (yy - a[1]) * d[1]) / max(d @ d, 1e-12), 0, 1)
    return (xx - a[0] - t * d[0]) ** 2 + (yy - a[1] - t * d[1]) ** 2 <= r * r


class Screen:
    """Image -> page coordinates of the fitted, zoomed and panned view, tracked here from the inputs."""

    def __init__(self, stage: dict, shape, flip: bool = False):
        self.stage, self.shape, self.flip = stage, shape, flip
        self.s, self.left, self.top = fit_transform(stage, shape, flip)

    def __call__(self, x: float, y: float) -> tuple[int, int]:
        """Whole page pixels: chromium reports mouse positions as integers."""
        return round(self.left + (-self.s if self.flip else self.s) * x), round(self.top + self.s * y)

    def image(self, px: float, py: float) -> tuple[float, float]:
        return (px - self.left) / (-self.s if self.flip else self.s), (py - self.top) / self.s

    def zoom(self, cx: float, cy: float, k: float) -> None:
        self.left, self.top, self.s = cx - k * (cx - self.left), cy - k * (cy - self.top), self.s * k

    def pan(self, dx: float, dy: float) -> None:
        self.left, self.top = self.left + dx, self.top + dy


def assert_view(page, screen: Screen) -> None:
    view, stage = viewer_state(page)["view"], screen.stage
    assert math.isclose(view["s"], screen.s, rel_tol=1e-9)
    assert abs(stage["left"] + view["tx"] - screen.left) < 1e-6 and abs(stage["top"] + view["ty"] - screen.top) < 1e-6


# ----------------------------------------------------------------------------- tests
def test_zoom_4x_pan_and_rectangle_land_on_the_image_pixels(page, url, store):
    from core.viewer import geometry_to_mask

    state = open_viewer(page, url)
    screen = Screen(state["stageRect"], (300, 400))
    assert_view(page, screen)
    stage = screen.stage
    cursor = (round(stage["left"] + 0.62 * stage["width"]), round(stage["top"] + 0.41 * stage["height"]))
    page.mouse.move(*cursor)
    for _ in range(8):
        page.mouse.wheel(0, -100)
    screen.zoom(*cursor, ZOOM_NOTCH ** 8)
    assert math.isclose(screen.s / fit_transform(stage, (300, 400))[0], 4.0)
    assert_view(page, screen)
    drag(page, (cursor[0] + 30, cursor[1] + 20), (cursor[0] - 70, cursor[1] + 65), button="middle")
    screen.pan(-100, 45)
    assert_view(page, screen)
    set_label(page, "zoomed-rect")
    page.keyboard.press("r")
    a, b = (cursor[0] - 180, cursor[1] - 90), (cursor[0] + 95, cursor[1] + 130)
    drag(page, a, b)
    (x0, y0), (x1, y1) = screen.image(*a), screen.image(*b)
    expected = geometry_to_mask({"type": "rect", "x": x0, "y": y0, "width": x1 - x0, "height": y1 - y0}, (300, 400))
    page.screenshot(path=str(ARTIFACTS / "viewer_zoomed_rectangle.png"))
    (roi,) = save_and_wait(page, store, lambda: rois_labelled(store, "zoomed-rect"))
    assert roi.annotator == "reader-a" and roi.geometry["type"] == "rect"
    assert abs(roi.area - expected.sum()) <= 0.03 * expected.sum()
    rows, cols = np.flatnonzero(roi.mask.any(1)), np.flatnonzero(roi.mask.any(0))
    erows, ecols = np.flatnonzero(expected.any(1)), np.flatnonzero(expected.any(0))
    for got, want in ((rows[0], erows[0]), (rows[-1], erows[-1]), (cols[0], ecols[0]), (cols[-1], ecols[-1])):
        assert abs(int(got) - int(want)) <= 1


def test_brush_stroke_covers_the_swept_disc_and_erasing_half_halves_it(page, url, store):
    state = open_viewer(page, url)
    screen = Screen(state["stageRect"], (300, 400))
    set_label(page, "brushed")
    page.keyboard.press("b")
    page.keyboard.press("]")
    page.keyboard.press("]")
    radius = 8 * 1.25 ** 2  # default radius 8 image pixels, x1.25 per ]
    assert math.isclose(viewer_state(page)["radius"], radius)
    start, end = (60.0, 180.0), (260.0, 180.0)
    drag(page, screen(*start), screen(*end), steps=25)
    a, b = screen.image(*screen(*start)), screen.image(*screen(*end))
    swept = 2 * radius * (b[0] - a[0]) + math.pi * radius ** 2
    (roi,) = save_and_wait(page, store, lambda: rois_labelled(store, "brushed"))
    assert abs(roi.area - swept) <= 0.05 * swept, (roi.area, swept)
    oracle = capsule((300, 400), a, b, radius)
    assert (roi.mask ^ oracle).sum() <= 0.01 * oracle.sum()
    assert roi.geometry == {"format": "viewer/1", "type": "mask"}
    # select the stored stroke, then erase its right half with a wide eraser
    page.keyboard.press("v")
    page.mouse.click(*screen(120.0, 180.0))
    assert viewer_state(page)["selected"] == f"s{roi.id}"
    page.keyboard.press("e")
    for _ in range(4):
        page.keyboard.press("]")
    eraser = radius * 1.25 ** 4
    middle = (a[0] + b[0]) / 2
    c, d = screen(middle + eraser, 180.0), screen(b[0] + eraser + 10, 180.0)
    drag(page, c, d, steps=20)
    save_and_wait(page, store, lambda: store.get_roi(roi.id).version == 2)
    halved = store.get_roi(roi.id)
    assert halved.annotator == "reader-a"
    assert abs(halved.area - roi.area / 2) <= 0.05 * roi.area / 2, (halved.area, roi.area)
    left = oracle & ~capsule((300, 400), screen.image(*c), screen.image(*d), eraser)
    assert (halved.mask ^ left).sum() <= 0.01 * left.sum()


def test_window_level_drag_rerenders_in_the_browser_without_a_rerun(page, url):
    frames = []
    page.on("websocket", lambda ws: (ws.on("framesent", lambda _: frames.append("sent")),
                                    ws.on("framereceived", lambda _: frames.append("received"))))
    state = open_viewer(page, url)
    page.wait_for_timeout(1000)  # let the page settle: no script run is in flight
    before_hash, before = image_hash(page), viewer_state(page)
    frames.clear()
    stage = state["stageRect"]
    centre = (round(stage["left"] + stage["width"] / 2), round(stage["top"] + stage["height"] / 2))
    drag(page, centre, (centre[0] + 120, centre[1] + 60), button="right", steps=12)
    page.wait_for_timeout(700)
    after = viewer_state(page)
    assert frames == [], f"the W/L drag talked to the server: {len(frames)} websocket frames"
    assert image_hash(page) != before_hash
    assert after["renders"] > before["renders"]
    pixels = grid_values()
    step = (pixels.max() - pixels.min()) / 1024  # documented sensitivity: the value range per 1024 px
    assert math.isclose(after["window"]["width"], before["window"]["width"] + 120 * step, rel_tol=1e-6)
    assert math.isclose(after["window"]["center"], before["window"]["center"] + 60 * step, rel_tol=1e-6)


def test_number_keys_apply_the_window_presets(page, url):
    from core.io import WINDOW_PRESETS, auto_window

    state = open_viewer(page, url)
    stage = state["stageRect"]
    page.mouse.click(stage["left"] + 5, stage["top"] + 5)  # focus the viewer (a W/L click of zero length)
    hashes = set()
    for key, name in (("1", "brain"), ("4", "lung"), ("7", "bone"), ("9", "liver")):
        page.keyboard.press(key)
        page.wait_for_timeout(150)
        window = viewer_state(page)["window"]
        assert (window["center"], window["width"]) == (WINDOW_PRESETS[name].center, WINDOW_PRESETS[name].width)
        hashes.add(image_hash(page))
    page.keyboard.press("8")
    page.wait_for_timeout(150)
    window = viewer_state(page)["window"]
    expected = auto_window(grid_values().astype(np.float32))
    assert math.isclose(window["center"], expected.center, rel_tol=1e-6)
    assert math.isclose(window["width"], expected.width, rel_tol=1e-6)
    hashes.add(image_hash(page))
    assert len(hashes) >= 4  # brain, lung, bone, liver and auto render differently on 0-36000 values
    screen = Screen(stage, (300, 400))
    page.mouse.move(*screen(123.5, 45.5))  # the value under the cursor, in the file's units
    assert page.locator(".eg-bl").inner_text().strip() == f"x 123 y 45 · {123 * 90 + 45}"


def _block_display(k: int):
    """The bright block on axial display slice k, in core.io's (neurological) image pixels: rows, cols."""
    from core.io import load_image

    image = load_image(str(_volume_path()))
    plane = image.slice(k, "axial")
    rows, cols = np.flatnonzero((plane > 500).any(1)), np.flatnonzero((plane > 500).any(0))
    return image, plane > 500, (rows[0], rows[-1] + 1), (cols[0], cols[-1] + 1)


def _volume_path() -> Path:
    return _IMAGES[0] / VOLUME


def test_volume_scrolls_and_an_roi_on_slice_k_lands_on_k_in_the_store_and_the_nifti(page, url, store,
                                                                                    viewer_workspace, tmp_path):
    import nibabel as nib

    from core.store import export_bundle

    state = open_viewer(page, url, VOLUME)
    assert (state["n"], state["slice"]) == (24, 12)
    stage = state["stageRect"]
    page.mouse.click(stage["left"] + 5, stage["top"] + 5)  # keyboard focus (a W/L click of zero length)
    for _ in range(3):
        page.keyboard.press("ArrowDown")
    page.mouse.move(stage["left"] + 100, stage["top"] + 100)
    page.keyboard.down("Control")
    page.mouse.wheel(0, 100)
    page.keyboard.up("Control")
    assert viewer_state(page)["slice"] == 16
    page.keyboard.press("PageUp")
    assert viewer_state(page)["slice"] == 11
    page.keyboard.press("PageDown")
    k = 16
    state = viewer_state(page)
    assert state["slice"] == k and page.locator(".eg-tl").inner_text().startswith(f"axial {k + 1} / 24")
    page.wait_for_function("() => window.__equiguardViewers.ann_viewer.stack.chunks.size === 3")
    state = viewer_state(page)
    assert set(state["loadedChunks"]) == {0, 1, 2}  # all 3 chunks of 8 slices: the current one and neighbours
    image, block, (r0, r1), (c0, c1) = _block_display(k)
    screen = Screen(stage, (48, 64), flip=True)  # radiological by default: axial slices are mirrored
    set_label(page, "slice-roi")
    page.keyboard.press("r")
    drag(page, screen(c0 - 2, r0 - 2), screen(c1 + 2, r1 + 2))
    (roi,) = save_and_wait(page, store, lambda: rois_labelled(store, "slice-roi"))
    record = store.get_image(roi.image_id)
    assert (record.axis, record.slice_index) == ("axial", k)
    assert (roi.mask & block).sum() == block.sum()
    bundle = export_bundle(store, tmp_path / "bundle")
    assert bundle.n_rois >= 1
    (nifti,) = (tmp_path / "bundle").rglob("slice-roi.nii.gz")
    exported = np.asarray(nib.load(nifti).dataobj) > 0
    assert exported.shape == (64, 48, 24)
    assert set(np.flatnonzero(exported.any(axis=(0, 1)))) == {k}
    assert exported[BLOCK[0], BLOCK[1], k].all()
    assert not exported[: 64 - BLOCK[0].stop, :, k].any()  # nothing on the mirrored (patient's left) side


@pytest.mark.parametrize("convention,left_letter", [("Radiological", "R"), ("Neurological", "L")])
def test_both_display_conventions_round_trip_an_asymmetric_roi(page, url, store, convention, left_letter):
    state = open_viewer(page, url, VOLUME, convention=convention)
    flip = convention == "Radiological"
    assert page.locator(".eg-o-left").inner_text() == left_letter
    assert convention.lower() in page.locator(".eg-tr").inner_text()
    stage = state["stageRect"]
    page.mouse.click(stage["left"] + 5, stage["top"] + 5)
    for _ in range(8):
        page.keyboard.press("ArrowDown")
    k = 20
    assert viewer_state(page)["slice"] == k
    image, block, (r0, r1), (c0, c1) = _block_display(k)
    # the block is at the patient's right: on screen left in radiological, right in neurological
    from io import BytesIO

    from PIL import Image

    shot = np.asarray(Image.open(BytesIO(page.screenshot(clip={"x": stage["left"], "y": stage["top"],
                                                             "width": stage["width"],
                                                             "height": stage["height"]}))).convert("L"))
    bright_x = np.flatnonzero((shot > 200).any(axis=0)).mean()
    assert (bright_x < stage["width"] / 2) == flip
    screen = Screen(stage, (48, 64), flip=flip)
    label = f"side-{convention.lower()}"
    set_label(page, label)
    page.keyboard.press("p")
    corners = [(c0 - 1.5, r0 - 1.5), (c1 + 1.5, r0 - 1.5), (c1 + 1.5, r1 + 1.5), (c0 - 1.5, r1 + 1.5)]
    for corner in corners:
        page.mouse.click(*screen(*corner))
    page.keyboard.press("Enter")
    (roi,) = save_and_wait(page, store, lambda: rois_labelled(store, label))
    assert store.get_image(roi.image_id).slice_index == k
    assert (roi.mask & block).sum() == block.sum()
    assert not roi.mask[:, : 64 - c0].any()  # the mirrored side stays empty


def test_every_tool_hotkey_and_the_editing_keys(page, url, store):
    state = open_viewer(page, url)
    screen = Screen(state["stageRect"], (300, 400))
    page.mouse.click(*screen(5, 5))  # focus: a W/L click of zero length
    for key, tool in (("v", "select"), ("b", "brush"), ("e", "eraser"), ("p", "polygon"), ("f", "freehand"),
                      ("r", "rect"), ("o", "ellipse"), ("w", "wl")):
        page.keyboard.press(key)
        assert viewer_state(page)["tool"] == tool
        assert page.locator(f".eg-tool[data-tool={tool}]").get_attribute("class").endswith("eg-on")
    page.keyboard.press("[")
    assert math.isclose(viewer_state(page)["radius"], 8 / 1.25)
    page.keyboard.press("]")
    assert math.isclose(viewer_state(page)["radius"], 8)
    page.keyboard.press("?")
    assert page.locator(".eg-help").is_visible() and "Ctrl+Z" in page.locator(".eg-help").inner_text()
    page.keyboard.press("Escape")
    assert not page.locator(".eg-help").is_visible()
    page.keyboard.press("=")
    assert viewer_state(page)["view"]["s"] > screen.s * 1.1
    page.keyboard.press("0")
    assert_view(page, screen)
    set_label(page, "hotkeys")
    # each drawing tool makes the shape it names, in image pixels
    page.keyboard.press("o")
    drag(page, screen(20, 20), screen(80, 60))
    page.keyboard.press("f")
    page.mouse.move(*screen(100, 20))
    page.mouse.down()
    for t in np.linspace(0, 2 * np.pi, 24):
        page.mouse.move(*screen(130 + 25 * np.cos(t), 45 + 25 * np.sin(t)))
    page.mouse.up()
    page.keyboard.press("p")
    for x, y in ((200, 20), (260, 25), (240, 70)):
        page.mouse.click(*screen(x, y))
    page.mouse.click(*screen(200, 20))  # clicking the first vertex again closes it
    page.keyboard.press("r")
    drag(page, screen(300, 20), screen(360, 60))
    local = [r for r in viewer_state(page)["rois"] if r["dirty"]]
    kinds = [r["geometry"]["type"] for r in local]
    assert kinds == ["ellipse", "freehand", "polygon", "rect"]
    ellipse = local[0]["geometry"]
    assert abs(ellipse["cx"] - 50) < 0.5 and abs(ellipse["rx"] - 30) < 0.5 and abs(ellipse["ry"] - 20) < 0.5
    # undo / redo / delete
    page.keyboard.press("Control+z")
    assert len([r for r in viewer_state(page)["rois"] if r["dirty"]]) == 3
    page.keyboard.press("Control+y")
    assert len([r for r in viewer_state(page)["rois"] if r["dirty"]]) == 4
    # vertex editing: select the polygon and drag its second vertex
    page.keyboard.press("v")
    page.mouse.click(*screen(232, 38))
    polygon = next(r for r in viewer_state(page)["rois"] if r["geometry"] and r["geometry"]["type"] == "polygon")
    assert viewer_state(page)["selected"] == polygon["cid"]
    drag(page, screen(260, 25), screen(280, 45))
    moved = next(r for r in viewer_state(page)["rois"] if r["cid"] == polygon["cid"])["geometry"]["points"][1]
    assert abs(moved[0] - screen.image(*screen(280, 45))[0]) < 1e-6 and abs(moved[1] - screen.image(*screen(280, 45))[1]) < 1e-6
    page.keyboard.press("Delete")
    assert polygon["cid"] not in {r["cid"] for r in viewer_state(page)["rois"]}
    page.keyboard.press("h")
    assert not page.locator(".eg-show input").is_checked()
    page.keyboard.press("h")
    saved = save_and_wait(page, store, lambda: len(rois_labelled(store, "hotkeys")) == 3 and rois_labelled(store, "hotkeys"))
    assert sorted(r.geometry["type"] for r in saved) == ["ellipse", "freehand", "rect"]


def test_a_refused_save_keeps_the_drawing_and_says_why(page, url, store):
    state = open_viewer(page, url, annotator=None)
    screen = Screen(state["stageRect"], (300, 400))
    page.locator(".eg-tool[data-tool=rect]").click()
    set_label(page, "kept-in-browser")
    drag(page, screen(30, 200), screen(90, 260))
    page.locator(".eg-save").click()
    page.wait_for_function("() => document.querySelector('[data-testid=stBidiComponentIsolated]').shadowRoot"
                           ".querySelector('.eg-status').dataset.kind === 'error'")
    assert "reader profile" in page.locator(".eg-status").inner_text()
    assert rois_labelled(store, "kept-in-browser") == []
    sign_in(page, "reader-late")
    assert [r["dirty"] for r in viewer_state(page)["rois"] if r["label"] == "kept-in-browser"] == [True]
    (roi,) = save_and_wait(page, store, lambda: rois_labelled(store, "kept-in-browser"))
    assert roi.annotator == "reader-late" and roi.area == 60 * 60


def test_an_roi_changed_meanwhile_in_another_session_keeps_both_versions(page, url, store):
    """The same reader in two tabs: an edit based on a replaced version is saved beside it.  (Another
    reader's ROI is read-only on the page: editing it would make it the editor's own.)"""
    state = open_viewer(page, url, annotator="reader-a")
    screen = Screen(state["stageRect"], (300, 400))
    page.locator(".eg-tool[data-tool=rect]").click()
    set_label(page, "contested")
    drag(page, screen(150, 200), screen(210, 250))
    (mine,) = save_and_wait(page, store, lambda: rois_labelled(store, "contested"))
    theirs = np.zeros_like(mine.mask)
    theirs[210:240, 160:200] = True
    store.update_roi(mine.id, expected_version=1, annotator="reader-a", mask=theirs)  # the other tab, meanwhile
    page.keyboard.press("v")
    page.mouse.click(*screen(180, 225))
    drag(page, screen(210, 250), screen(230, 270))  # stretch the rectangle by its corner
    rois = save_and_wait(page, store, lambda: len(rois_labelled(store, "contested")) == 2 and
                         rois_labelled(store, "contested"))
    message = page.locator(".eg-status").inner_text()
    assert "changed by reader-a" in message and "both versions are kept" in message
    original = store.get_roi(mine.id)
    assert original.version == 2 and np.array_equal(original.mask, theirs)
    fork = next(r for r in rois if r.id != mine.id)
    assert fork.annotator == "reader-a" and fork.area == 80 * 70
    assert page.locator('[data-testid="stException"]').count() == 0


def test_screenshots_of_the_radiograph_at_1x_and_zoomed(page, url):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    from core.io import load_image

    state = open_viewer(page, url, RADIOGRAPH)
    assert state["window"]["width"] > 0 and page.locator(".eg-tl").inner_text().startswith("1841×1955")
    # MONOCHROME1 with the file's window, drawn in the browser = core.io's rendering (the oracle)
    expected = np.round(load_image(str(_IMAGES[0] / RADIOGRAPH)).render(0) * 255)
    points = [(100, 200), (977, 640), (1800, 1500), (1900, 30), (300, 1200)]  # (row, column)
    drawn = page.evaluate("""(pts) => { const c = window.__equiguardViewers.ann_viewer.imageCanvas.getContext('2d');
        return pts.map(([i, j]) => c.getImageData(j, i, 1, 1).data[0]); }""", points)
    assert np.abs(np.array(drawn) - np.array([expected[i, j] for i, j in points])).max() <= 2
    page.screenshot(path=str(ARTIFACTS / "viewer_radiograph_1x.png"), full_page=True)
    stage = state["stageRect"]
    page.mouse.move(round(stage["left"] + stage["width"] * 0.45), round(stage["top"] + stage["height"] * 0.35))
    for _ in range(12):
        page.mouse.wheel(0, -100)
    page.wait_for_timeout(300)
    assert math.isclose(viewer_state(page)["view"]["s"] / state["view"]["s"], ZOOM_NOTCH ** 12)
    page.screenshot(path=str(ARTIFACTS / "viewer_radiograph_zoomed.png"), full_page=True)
    page.locator(".eg-tool[data-tool=wl]").click()  # the keyboard goes to the viewer
    page.keyboard.press("?")
    assert page.locator(".eg-help").is_visible()
    page.screenshot(path=str(ARTIFACTS / "viewer_hotkey_help.png"))
    assert page.locator('[data-testid="stException"]').count() == 0
