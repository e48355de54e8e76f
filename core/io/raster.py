"""PNG, JPEG and TIFF: 8/16-bit, greyscale or colour, multi-page TIFF.

Who decodes what:

- **PNG**: Pillow reads the header (pixel guard) and decodes once to verify
  the data (it raises on damage, where libpng inside OpenCV would print to
  stderr); OpenCV then produces the values, because Pillow silently reduces
  16-bit colour PNGs to 8 bits.
- **JPEG** (8-bit): Pillow alone.
- **TIFF**: the page sizes come from our own IFD walk (Pillow cannot open
  float or many 16-bit colour TIFFs); libtiff inside OpenCV decodes, with its
  log silenced.

Values are kept as stored (no rescaling).  Alpha is dropped, not composited:
medical exports use alpha only as an opacity flag, and compositing would
change the grey levels.  EXIF orientation is not applied.
"""

from __future__ import annotations

import io
import struct
import warnings
from contextlib import contextmanager

import numpy as np

from core.errors import LoadError
from core.io.image import MedicalImage
from core.io.window import Window, auto_window

__all__ = ["load_raster", "tiff_page_sizes"]

_GREY_MODES = {"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F", "L;16"}
# OpenCV walks the page chain from the start for every page (quadratic time:
# 4,000 pages take 2 s, 20,000 take 45 s), so a tiny file of many pages is a CPU bomb.
_MAX_TIFF_PAGES = 4096
_PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))


def _guard(fmt: str, width: int, height: int, pages: int, max_pixels: int) -> None:
    if width < 1 or height < 1:
        raise LoadError(f"the {fmt.upper()} image is empty ({width}x{height})")
    if width * height * pages > max_pixels:
        raise LoadError(f"the {fmt.upper()} image has {width}x{height}x{pages} pixels, more than the limit of "
                        f"{max_pixels:,}; raise max_pixels if this file is trusted")


def _pillow_header(data: bytes, fmt: str, max_pixels: int) -> str:
    """Mode of a PNG/JPEG after the pixel guard and a verifying decode."""
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # DecompressionBombWarning: our own limit follows
            with Image.open(io.BytesIO(data)) as im:
                width, height = im.size
                _guard(fmt, width, height, 1, max_pixels)
                im.load()
                return im.mode
    except LoadError:
        raise
    except Image.DecompressionBombError as exc:
        raise LoadError(f"the {fmt.upper()} image is larger than Pillow's decompression-bomb limit") from exc
    except Exception as exc:  # noqa: BLE001 - Pillow raises many types on damaged files
        raise LoadError(f"the {fmt.upper()} file is damaged or truncated ({type(exc).__name__})") from exc


def tiff_page_sizes(data: bytes) -> list[tuple[int, int]]:
    """(width, height) of every page, from the TIFF/BigTIFF IFD chain alone.

    Raises LoadError on a damaged header or a looping IFD chain.
    """
    endian = "<" if data[:2] == b"II" else ">"
    try:
        (magic,) = struct.unpack_from(endian + "H", data, 2)
        if magic == 42:
            (offset,) = struct.unpack_from(endian + "I", data, 4)
            count_fmt, entry_fmt, entry_size, next_fmt = "H", "HHI4s", 12, "I"
        elif magic == 43:
            (offset,) = struct.unpack_from(endian + "Q", data, 8)
            count_fmt, entry_fmt, entry_size, next_fmt = "Q", "HHQ8s", 20, "Q"
        else:
            raise LoadError("the TIFF header has an unknown version")
        sizes: list[tuple[int, int]] = []
        seen: set[int] = set()
        while offset:
            if offset in seen:
                raise LoadError("the TIFF page directory loops")
            if len(sizes) >= _MAX_TIFF_PAGES:
                raise LoadError(f"the TIFF file has more than {_MAX_TIFF_PAGES:,} pages; split it into smaller files")
            seen.add(offset)
            (n_entries,) = struct.unpack_from(endian + count_fmt, data, offset)
            start = offset + struct.calcsize(endian + count_fmt)
            dims = {}
            for k in range(int(n_entries)):
                tag, kind, _count, value = struct.unpack_from(endian + entry_fmt, data, start + k * entry_size)
                if tag in (256, 257):  # ImageWidth, ImageLength: SHORT, LONG or LONG8
                    fmt = {3: "H", 4: "I", 16: "Q"}.get(kind)
                    if fmt is None:
                        raise LoadError("the TIFF image size has an invalid type")
                    dims[tag] = struct.unpack_from(endian + fmt, value)[0]
            if 256 not in dims or 257 not in dims:
                raise LoadError("a TIFF page has no image size")
            sizes.append((int(dims[256]), int(dims[257])))
            (offset,) = struct.unpack_from(endian + next_fmt, data, start + int(n_entries) * entry_size)
    except struct.error as exc:
        raise LoadError("the TIFF header is truncated or damaged") from exc
    if not sizes:
        raise LoadError("the TIFF file has no pages")
    return sizes


def _png_raw_size(data: bytes) -> int:
    """Bytes the PNG's image data must inflate to (filter bytes included), from IHDR alone."""
    width, height, depth, colour, _, _, interlace = struct.unpack_from(">IIBBBBB", data, 16)
    channels = _PNG_CHANNELS.get(colour)
    if channels is None or depth not in (1, 2, 4, 8, 16):
        raise LoadError("the PNG header has an invalid colour type or bit depth")
    passes = _ADAM7 if interlace else ((0, 0, 1, 1),)
    total = 0
    for x0, y0, dx, dy in passes:
        cols, rows = -(-(width - x0) // dx), -(-(height - y0) // dy)
        if cols > 0 and rows > 0:
            total += rows * (1 + -(-cols * channels * depth // 8))
    return total


def _check_png_data(data: bytes) -> None:
    """Refuse a PNG whose IDAT stream inflates beyond what its header needs (a zlib bomb).

    libpng inflates the whole stream before complaining (5 s per MiB of
    input); here at most one byte more than needed is inflated.
    """
    import zlib

    try:
        expected = _png_raw_size(data)
        pos, idat = 8, bytearray()
        while pos + 8 <= len(data):
            length, kind = struct.unpack_from(">I4s", data, pos)
            if kind == b"IDAT":
                idat += data[pos + 8: pos + 8 + length]
            elif kind == b"IEND":
                break
            pos += 12 + length
        inflated = zlib.decompressobj().decompress(bytes(idat), expected + 1)
    except (struct.error, zlib.error):
        return  # damage is reported by the decoders
    if len(inflated) > expected:
        raise LoadError("the PNG image data inflates beyond the size its header declares; "
                        "refused as a decompression bomb")


@contextmanager
def _quiet_opencv():
    """OpenCV logs decoder complaints to stderr; a damaged file is reported by our LoadError instead."""
    import cv2

    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        cv2.utils.logging.setLogLevel(level)


def _opencv_pages(data: bytes, fmt: str) -> list[np.ndarray]:
    import cv2

    buf = np.frombuffer(data, np.uint8)
    with _quiet_opencv():
        if fmt == "tiff":
            ok, pages = cv2.imdecodemulti(buf, cv2.IMREAD_UNCHANGED)
            pages = list(pages) if ok else []
        else:
            one = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
            pages = [] if one is None else [one]
    if not pages:
        raise LoadError(f"the {fmt.upper()} pixel data is damaged or truncated")
    return pages


def _to_frame(raw: np.ndarray, grey: bool) -> np.ndarray:
    """OpenCV's (H, W[, C]) BGR(A) -> (H, W) grey or (H, W, 3) RGB."""
    import cv2

    if raw.ndim == 3 and raw.shape[2] == 1:
        raw = raw[..., 0]
    if raw.ndim == 3:
        if grey:
            return raw[..., 0]
        code = cv2.COLOR_BGRA2RGB if raw.shape[2] == 4 else cv2.COLOR_BGR2RGB
        return cv2.cvtColor(raw, code)
    return raw if grey else np.repeat(raw[..., None], 3, axis=2)


def load_raster(data: bytes, fmt: str, *, max_pixels: int, include_phi: bool = False,
                name: str | None = None) -> MedicalImage:
    """Decode PNG/JPEG/TIFF bytes into a :class:`MedicalImage`. Raises LoadError."""
    from PIL import Image

    if fmt == "tiff":
        sizes = tiff_page_sizes(data)
        for width, height in sizes:
            _guard(fmt, width, height, 1, max_pixels)
        total = sum(w * h for w, h in sizes)
        if total > max_pixels:
            raise LoadError(f"the TIFF's {len(sizes)} pages hold {total:,} pixels, more than the limit of "
                            f"{max_pixels:,}; raise max_pixels if this file is trusted")
        raw = _opencv_pages(data, fmt)
        if len(raw) != len(sizes):
            raise LoadError(f"only {len(raw)} of the {len(sizes)} TIFF pages could be decoded")
        channels = 1 if raw[0].ndim == 2 else raw[0].shape[2]
        grey = channels <= 2
        mode = f"{channels} channel(s), {raw[0].dtype}"
        frames = [_to_frame(page, grey) for page in raw]
    else:
        mode = _pillow_header(data, fmt, max_pixels)
        if fmt == "png":
            _check_png_data(data)
        grey = mode in _GREY_MODES
        if fmt == "jpeg":
            with Image.open(io.BytesIO(data)) as im:
                frames = [np.asarray(im.convert("L" if grey else "RGB"))]
        else:
            frames = [_to_frame(page, grey) for page in _opencv_pages(data, fmt)]
    if any(f.shape != frames[0].shape for f in frames):
        raise LoadError(f"the {len(frames)} TIFF pages differ in size or colour; save them as separate files")
    stored = np.stack(frames)
    if stored.dtype.kind not in "uif":
        raise LoadError(f"unsupported {fmt.upper()} sample type {stored.dtype}")
    values = stored.astype(np.float32)
    if not np.isfinite(values).all():
        raise LoadError(f"the {fmt.upper()} image contains NaN or infinite values")
    if stored.dtype == np.uint8:
        # 8-bit images were made for display: show them as stored.
        window = Window(127.5, 255.0, "full range", "LINEAR_EXACT")
    else:
        window = auto_window(values)
    height, width = stored.shape[1:3]
    metadata = {
        "Format": fmt.upper(),
        "Mode": mode,
        "Size": f"{width}x{height}",
        "BitsPerSample": str(stored.dtype.itemsize * 8),
        "Channels": "1" if grey else "3",
        "SpacingSource": "unknown (1 mm assumed)",
    }
    if len(frames) > 1:
        metadata["Pages"] = str(len(frames))
    return MedicalImage(format=fmt, photometric="MONOCHROME2" if grey else "RGB", spacing=(1.0, 1.0),
                        default_window=window, metadata=metadata, modality=None, frames_data=values, name=name)
