"""PNG, JPEG and TIFF: 8/16-bit, greyscale or colour, multi-page TIFF.

Pillow reads the header (size, mode, page count) for the pixel guard and then
verifies that every page decodes; OpenCV produces PNG and TIFF values, because
Pillow silently reduces 16-bit colour PNGs to 8 bits; JPEG (8-bit) stays with
Pillow.
Values are kept as stored (no rescaling).  Alpha is dropped, not composited:
medical exports use alpha only as an opacity flag, and compositing would
change the grey levels.  EXIF orientation is not applied.
"""

from __future__ import annotations

import io
import warnings
from contextlib import contextmanager

import numpy as np

from core.errors import LoadError
from core.io.image import MedicalImage
from core.io.window import Window, auto_window

__all__ = ["load_raster"]

_GREY_MODES = {"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F", "L;16"}


def _verify_pages(im, pages: int) -> None:
    """Decode every page with Pillow first: it raises on damaged data where
    OpenCV's libpng/libjpeg would print to stderr and return a partial image."""
    for page in range(pages):
        im.seek(page)
        im.load()


def _header(data: bytes, fmt: str, max_pixels: int) -> tuple[str, int, int, int]:
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # DecompressionBombWarning: our own limit follows
            with Image.open(io.BytesIO(data)) as im:
                width, height = im.size
                pages = int(getattr(im, "n_frames", 1) or 1) if fmt == "tiff" else 1
                mode = im.mode
                if width * height * pages <= max_pixels:
                    _verify_pages(im, pages)
    except Image.DecompressionBombError as exc:
        raise LoadError(f"the {fmt.upper()} image is larger than the pixel limit ({exc})") from exc
    except Exception as exc:  # noqa: BLE001 - Pillow raises many types on damaged files
        raise LoadError(f"the {fmt.upper()} file is damaged or truncated ({type(exc).__name__}: {exc})") from exc
    if width < 1 or height < 1:
        raise LoadError(f"the {fmt.upper()} image is empty ({width}x{height})")
    if width * height * pages > max_pixels:
        raise LoadError(f"the {fmt.upper()} image has {width}x{height}x{pages} pixels, more than the limit of "
                        f"{max_pixels:,}; raise max_pixels if this file is trusted")
    return mode, width, height, pages


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


def _to_frame(raw: np.ndarray, grey: bool) -> np.ndarray:
    import cv2

    if raw.ndim == 3 and raw.shape[2] == 1:
        raw = raw[..., 0]
    if raw.ndim == 3:
        if grey:
            return raw[..., 0]
        code = cv2.COLOR_BGRA2RGB if raw.shape[2] == 4 else cv2.COLOR_BGR2RGB
        return cv2.cvtColor(raw, code)
    if not grey:
        return np.repeat(raw[..., None], 3, axis=2)
    return raw


def _jpeg_values(data: bytes, grey: bool) -> np.ndarray:
    """JPEG through Pillow: 8-bit only, and libjpeg's recoverable-corruption
    warnings stay silent (OpenCV's build prints them to stderr)."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("L" if grey else "RGB"))


def load_raster(data: bytes, fmt: str, *, max_pixels: int, include_phi: bool = False,
                name: str | None = None) -> MedicalImage:
    """Decode PNG/JPEG/TIFF bytes into a :class:`MedicalImage`. Raises LoadError."""
    import cv2

    mode, width, height, pages = _header(data, fmt, max_pixels)
    grey = mode in _GREY_MODES
    if fmt == "jpeg":
        frames = [_jpeg_values(data, grey)]
    else:
        buf = np.frombuffer(data, np.uint8)
        with _quiet_opencv():
            if fmt == "tiff":
                ok, decoded = cv2.imdecodemulti(buf, cv2.IMREAD_UNCHANGED)
                decoded = list(decoded) if ok else []
            else:
                one = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
                decoded = [] if one is None else [one]
        if not decoded:
            raise LoadError(f"the {fmt.upper()} pixel data is damaged or truncated")
        frames = [_to_frame(f, grey) for f in decoded]
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
    bits = stored.dtype.itemsize * 8
    metadata = {
        "Format": fmt.upper(),
        "Mode": mode,
        "Size": f"{width}x{height}",
        "BitsPerSample": str(bits),
        "Channels": "1" if grey else "3",
        "SpacingSource": "unknown (1 mm assumed)",
    }
    if pages > 1:
        metadata["Pages"] = str(pages)
    return MedicalImage(format=fmt, photometric="MONOCHROME2" if grey else "RGB", spacing=(1.0, 1.0),
                        default_window=window, metadata=metadata, modality=None, frames_data=values, name=name)
