"""PNG / JPEG / TIFF: bit depth kept, colour handled, headers guarded."""

from __future__ import annotations

import io
import struct
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image

from core.errors import LoadError
from core.io import detect_format, load_image


def _png(array: np.ndarray) -> bytes:
    ok, enc = cv2.imencode(".png", array)
    assert ok
    return enc.tobytes()


def test_16bit_grey_png_keeps_its_numbers(tmp_path):
    rng = np.random.default_rng(0)
    values = rng.integers(0, 65536, size=(37, 53), dtype=np.uint16)
    path = tmp_path / "ct16.png"
    Image.fromarray(values).save(path)  # Pillow writes mode I;16
    img = load_image(path)
    assert img.photometric == "MONOCHROME2" and img.frame_shape == (37, 53)
    np.testing.assert_array_equal(img.frame(0), values.astype(np.float32))
    assert img.metadata["BitsPerSample"] == "16"
    assert img.default_window.name == "auto"


def test_16bit_rgb_png_is_not_truncated():
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 65536, size=(9, 11, 3), dtype=np.uint16)
    img = load_image(_png(rgb[..., ::-1]))  # OpenCV writes BGR
    assert img.photometric == "RGB"
    np.testing.assert_array_equal(img.frame(0), rgb.astype(np.float32))


def test_8bit_grey_renders_as_stored():
    grey = np.arange(256, dtype=np.uint8).reshape(16, 16)
    img = load_image(_png(grey))
    np.testing.assert_allclose(img.render(), grey / 255.0, atol=1e-7)


def test_rgba_drops_alpha_and_la_is_grey():
    rng = np.random.default_rng(2)
    rgba = rng.integers(0, 256, size=(8, 10, 4), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buf, "PNG")
    img = load_image(buf.getvalue())
    np.testing.assert_array_equal(img.frame(0), rgba[..., :3].astype(np.float32))
    la = io.BytesIO()
    Image.fromarray(rgba[..., :2], "LA").save(la, "PNG")
    grey = load_image(la.getvalue())
    assert grey.photometric == "MONOCHROME2"
    np.testing.assert_array_equal(grey.frame(0), rgba[..., 0].astype(np.float32))


def test_jpeg_and_palette_png():
    rng = np.random.default_rng(3)
    rgb = np.repeat(np.repeat(rng.integers(0, 256, size=(4, 4, 3), dtype=np.uint8), 8, 0), 8, 1)
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=95)
    assert detect_format(buf.getvalue()) == "jpeg"
    img = load_image(buf.getvalue())
    peer = cv2.imdecode(np.frombuffer(buf.getvalue(), np.uint8), cv2.IMREAD_COLOR)[..., ::-1].astype(np.float32)
    # An independent decoder (OpenCV's libjpeg) may round the colour conversion differently.
    assert img.photometric == "RGB" and np.abs(img.frame(0) - peer).max() <= 3
    pal = io.BytesIO()
    Image.fromarray(rgb).convert("P").save(pal, "PNG")
    assert load_image(pal.getvalue()).photometric == "RGB"


def test_multipage_16bit_tiff(tmp_path):
    rng = np.random.default_rng(4)
    pages = [rng.integers(0, 4096, size=(12, 14), dtype=np.uint16) for _ in range(3)]
    path = tmp_path / "stack.tif"
    Image.fromarray(pages[0]).save(path, save_all=True, append_images=[Image.fromarray(p) for p in pages[1:]])
    img = load_image(path)
    assert img.n_frames == 3 and img.metadata["Pages"] == "3"
    for i, page in enumerate(pages):
        np.testing.assert_array_equal(img.frame(i), page.astype(np.float32))


def test_float_tiff_with_nan_is_rejected(tmp_path):
    values = np.ones((5, 5), np.float32)
    values[2, 2] = np.nan
    ok, enc = cv2.imencode(".tiff", values)
    with pytest.raises(LoadError, match="NaN"):
        load_image(enc.tobytes())


def _png_claiming(width: int, height: int) -> bytes:
    """A syntactically valid PNG header that promises a huge image, with a tiny body."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunk = lambda kind, body: (struct.pack(">I", len(body)) + kind + body
                                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


def test_pixel_bomb_is_refused_from_the_header():
    with pytest.raises(LoadError, match="limit"):
        load_image(_png_claiming(100_000, 100_000))
    with pytest.raises(LoadError, match="limit"):
        load_image(_png(np.zeros((40, 40), np.uint8)), max_pixels=1000)


def test_tiffs_pillow_cannot_open(tmp_path):
    rng = np.random.default_rng(5)
    rgb16 = rng.integers(0, 65536, size=(9, 11, 3), dtype=np.uint16)
    ok, enc = cv2.imencode(".tiff", rgb16[..., ::-1])
    img = load_image(enc.tobytes())
    assert img.photometric == "RGB" and img.metadata["BitsPerSample"] == "16"
    np.testing.assert_array_equal(img.frame(0), rgb16.astype(np.float32))
    rgbf = rng.normal(size=(6, 5, 3)).astype(np.float32)
    ok, enc = cv2.imencode(".tiff", rgbf[..., ::-1])
    np.testing.assert_array_equal(load_image(enc.tobytes()).frame(0), rgbf)


def test_tiff_page_sizes_and_guard(tmp_path):
    from core.io.raster import tiff_page_sizes

    path = tmp_path / "pages.tif"
    pages = [Image.fromarray(np.zeros((h, 7), np.uint8)) for h in (5, 5, 5)]
    pages[0].save(path, save_all=True, append_images=pages[1:])
    raw = path.read_bytes()
    assert tiff_page_sizes(raw) == [(7, 5)] * 3
    with pytest.raises(LoadError, match="limit"):
        load_image(raw, max_pixels=7 * 5 * 3 - 1)
    assert load_image(raw, max_pixels=7 * 5 * 3).n_frames == 3
    with pytest.raises(LoadError, match="TIFF"):
        load_image(raw[:12])
