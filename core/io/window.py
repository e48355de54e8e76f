"""Display windowing: modality values (HU, MR units, raw grey levels) -> [0, 1].

The three VOI functions follow DICOM PS3.3 C.11.2.1.2 (``LINEAR``,
``LINEAR_EXACT``, ``SIGMOID``); a VOI LUT (PS3.3 C.11.2.1.1) is carried by
:class:`VoiLut`.  MONOCHROME1 inversion is the caller's job, *after* the window.

CT presets (centre/width in HU) are the usual reading windows:

=============  ======  =====
name           centre  width
=============  ======  =====
brain             40     80
subdural          75    215
stroke            40     40
lung            -600   1500
mediastinum       50    350
soft_tissue       40    400
liver             60    160
bone             400   1800
=============  ======  =====

``"auto"`` is not a fixed preset: it spans the 0.5th-99.5th percentile of the
image's own values (:func:`auto_window`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from core.errors import ConfigError

__all__ = [
    "VOI_FUNCTIONS",
    "VoiLut",
    "Window",
    "WINDOW_PRESETS",
    "apply_window",
    "auto_window",
    "preset_names",
]

VOI_FUNCTIONS = ("LINEAR", "LINEAR_EXACT", "SIGMOID")

# Percentile estimates on more values than this use a fixed-stride subsample:
# the window barely moves and large volumes stay fast.
_AUTO_SAMPLE = 2_000_000


@dataclass(frozen=True, eq=False)
class VoiLut:
    """A DICOM VOI LUT: stored value -> display value.

    ``first_mapped`` is the stored value mapped to ``data[0]``; values below
    (above) it map to the first (last) entry.  ``bits`` is the entry depth from
    the LUT Descriptor, so the display value is ``entry / (2**bits - 1)``.
    """

    first_mapped: int
    bits: int
    data: np.ndarray  # (n_entries,) integer

    def __post_init__(self) -> None:
        if self.data.ndim != 1 or self.data.size == 0:
            raise ValueError("a VOI LUT needs at least one entry")
        if not 1 <= self.bits <= 16:
            raise ValueError(f"VOI LUT entry depth must be 1-16 bits, got {self.bits}")


@dataclass(frozen=True)
class Window:
    """A display window: ``center`` and ``width`` in modality units.

    ``function`` is the DICOM VOI LUT Function; ``lut``, when set, replaces
    the linear/sigmoid mapping (``center``/``width`` then only describe the
    LUT's input range for display purposes).
    """

    center: float
    width: float
    name: str = "custom"
    function: str = "LINEAR"
    lut: VoiLut | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.function not in VOI_FUNCTIONS:
            raise ConfigError(f"unknown VOI function {self.function!r}; use one of {', '.join(VOI_FUNCTIONS)}")
        if not (np.isfinite(self.center) and np.isfinite(self.width)):
            raise ConfigError(f"window centre and width must be finite numbers, got {self.center}/{self.width}")
        minimum = 1.0 if self.function == "LINEAR" else 0.0
        if self.width < minimum or (minimum == 0.0 and self.width <= 0):
            raise ConfigError(
                f"window width must be {'>= 1' if minimum else '> 0'} for {self.function}, got {self.width:g}")

    @property
    def low(self) -> float:
        """Lowest value shown brighter than black."""
        return float(self.center - self.width / 2)

    @property
    def high(self) -> float:
        """Highest value shown darker than white."""
        return float(self.center + self.width / 2)

    def describe(self) -> str:
        """``"lung (C -600 / W 1500)"`` - for tables and captions."""
        kind = " VOI LUT" if self.lut is not None else ""
        return f"{self.name}{kind} (C {self.center:g} / W {self.width:g})"


WINDOW_PRESETS: dict[str, Window] = {
    w.name: w
    for w in (
        Window(40, 80, "brain"),
        Window(75, 215, "subdural"),
        Window(40, 40, "stroke"),
        Window(-600, 1500, "lung"),
        Window(50, 350, "mediastinum"),
        Window(40, 400, "soft_tissue"),
        Window(60, 160, "liver"),
        Window(400, 1800, "bone"),
    )
}


def preset_names() -> list[str]:
    """Names accepted wherever a window preset is asked for (``"auto"`` included)."""
    return ["auto", *WINDOW_PRESETS]


def auto_window(values: np.ndarray, low_pct: float = 0.5, high_pct: float = 99.5) -> Window:
    """A ``LINEAR_EXACT`` window spanning robust percentiles of ``values``.

    Non-finite values are ignored.  A constant image gets a unit-width window
    centred on its value, so it renders mid-grey rather than failing.
    """
    flat = np.asarray(values).reshape(-1)
    if flat.size > _AUTO_SAMPLE:
        flat = flat[:: flat.size // _AUTO_SAMPLE + 1]
    flat = flat[np.isfinite(flat)]
    if flat.size == 0:
        return Window(0.0, 1.0, "auto", "LINEAR_EXACT")
    lo, hi = (float(v) for v in np.percentile(flat, [low_pct, high_pct]))
    if hi <= lo:
        lo, hi = float(flat.min()), float(flat.max())
    if hi <= lo:
        return Window(lo, 1.0, "auto", "LINEAR_EXACT")
    return Window((lo + hi) / 2, hi - lo, "auto", "LINEAR_EXACT")


# Values windowed per block: float64 temporaries stay a few MiB whatever the image size.
_WINDOW_BLOCK = 2**20


def apply_window(values: np.ndarray, window: Window) -> np.ndarray:
    """Map modality values through ``window`` to display values.

    ``values``: any shape, real.  Returns float32 of the same shape in [0, 1]
    (NaN stays NaN).  Arithmetic is float64 so that 16-bit data and HU
    offsets keep their precision; it runs block by block, so the only
    full-size allocation is the float32 result.
    """
    values = np.asarray(values)
    out = np.empty(values.shape, np.float32)
    flat_in, flat_out = values.reshape(-1), out.reshape(-1)
    for start in range(0, flat_in.size, _WINDOW_BLOCK):
        block = flat_in[start: start + _WINDOW_BLOCK].astype(np.float64)
        flat_out[start: start + _WINDOW_BLOCK] = _window_block(block, window)
    return out


def _window_block(x: np.ndarray, window: Window) -> np.ndarray:
    """:func:`apply_window` on one float64 block."""
    if window.lut is not None:
        lut = window.lut
        idx = np.clip(np.rint(np.nan_to_num(x)) - lut.first_mapped, 0, lut.data.size - 1).astype(np.intp)
        out = lut.data.astype(np.float64)[idx] / (2.0**lut.bits - 1.0)
        out[np.isnan(x)] = np.nan
    elif window.function == "SIGMOID":
        with np.errstate(over="ignore"):  # exp overflow is the intended 0 limit
            out = 1.0 / (1.0 + np.exp(-4.0 * (x - window.center) / window.width))
    elif window.function == "LINEAR_EXACT":
        out = (x - window.center) / window.width + 0.5
    else:
        c, w = window.center, window.width
        if w > 1:
            out = (x - (c - 0.5)) / (w - 1.0) + 0.5
        else:
            # Width 1 is a threshold at c - 0.5 (the standard's ramp has zero length).
            out = np.where(x > c - 0.5, 1.0, 0.0)
    return np.clip(out, 0.0, 1.0)
