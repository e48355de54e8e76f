"""The one image type every loader returns: :class:`MedicalImage`."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from core.atomic import atomic_path
from core.errors import ConfigError
from core.io import orientation as orient
from core.io.window import WINDOW_PRESETS, Window, apply_window, auto_window

__all__ = ["MedicalImage", "WindowSpec"]

#: What ``render``/``resolve_window`` accept: None (the image's default),
#: a :class:`Window`, or a preset name from ``WINDOW_PRESETS`` / ``"auto"``.
WindowSpec = Window | str | None


def _readonly(a: np.ndarray | None) -> np.ndarray | None:
    if a is not None:
        a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)
class MedicalImage:
    """A loaded image in physical/modality units (HU for CT), float32.

    Two views of the same pixels:

    * **frames** - a stack of 2-D frames as stored: ``n_frames``,
      ``frame(i) -> (H, W)`` or ``(H, W, 3)`` for RGB.  DICOM frames keep the
      file's row/column order (what a PACS shows); for NIfTI the frames are
      the axial display slices of volume 0.
    * **volume** (NIfTI; multi-frame DICOM whose frame positions form a
      regular grid) - ``volume`` (X, Y, Z) or (X, Y, Z, T) in canonical RAS+
      voxel order, ``slice(index, axis, t)`` for display, and the inverse
      ``place_slice`` / ``slices_to_volume`` / ``save_mask_nifti`` that write
      masks back in the source file's voxel space.

    ``spacing`` is (row, col) of a frame in mm, plus the slice spacing for
    volumes.  ``affine`` is the canonical voxel -> RAS+ mm matrix (None for
    plain 2-D images); ``source_affine`` the file's own.  ``metadata`` is
    small, flat and de-identified unless the loader was asked for PHI.
    """

    format: str
    photometric: str  # "MONOCHROME1", "MONOCHROME2" or "RGB"
    spacing: tuple[float, ...]
    default_window: Window
    metadata: dict[str, str]
    modality: str | None = None
    frames_data: np.ndarray | None = field(default=None, repr=False)  # (N, H, W[, 3])
    volume: np.ndarray | None = field(default=None, repr=False)  # (X, Y, Z[, T]) canonical
    affine: np.ndarray | None = field(default=None, repr=False)
    source_affine: np.ndarray | None = field(default=None, repr=False)
    source_ornt: np.ndarray | None = field(default=None, repr=False)
    # NIfTI sources: (qform, qform_code, sform, sform_code) copied into saved masks,
    # so viewers that prefer one transform over the other still align them.
    source_xforms: tuple[np.ndarray | None, int, np.ndarray | None, int] | None = field(default=None, repr=False)
    windows: tuple[Window, ...] = ()
    name: str | None = None

    def __post_init__(self) -> None:
        if self.frames_data is None and self.volume is None:
            raise ValueError("a MedicalImage needs frames or a volume")
        for arr in (self.frames_data, self.volume, self.affine, self.source_affine):
            _readonly(arr)

    # ---------------------------------------------------------------- frames
    @property
    def is_volume(self) -> bool:
        return self.volume is not None

    @property
    def is_rgb(self) -> bool:
        return self.photometric == "RGB"

    @property
    def n_frames(self) -> int:
        if self.frames_data is not None:
            return int(self.frames_data.shape[0])
        return orient.n_slices(self.volume.shape, "axial")

    @property
    def frame_shape(self) -> tuple[int, ...]:
        """(H, W) or (H, W, 3)."""
        if self.frames_data is not None:
            return tuple(self.frames_data.shape[1:])
        return self.slice(0).shape

    @property
    def shape(self) -> tuple[int, ...]:
        """The stored array's shape: frames (N, H, W[, 3]), or the canonical volume."""
        return tuple((self.volume if self.frames_data is None else self.frames_data).shape)

    @property
    def pixels(self) -> np.ndarray:
        """All pixel values: the frame stack, or the canonical volume when there are no frames."""
        return self.frames_data if self.frames_data is not None else self.volume

    def frame(self, i: int) -> np.ndarray:
        """Frame ``i`` as float32 (H, W) or (H, W, 3), modality units."""
        if self.frames_data is None:
            return self.slice(i, "axial")
        if not -self.n_frames <= i < self.n_frames:
            raise ConfigError(f"frame {i} is out of range: the image has {self.n_frames} frame(s)")
        return self.frames_data[i]

    # ---------------------------------------------------------------- volume
    def _need_volume(self) -> np.ndarray:
        if self.volume is None:
            raise ConfigError("this image is a stack of 2-D frames without 3-D geometry; use frame(i)")
        return self.volume

    @property
    def n_timepoints(self) -> int:
        return 1 if self.volume is None or self.volume.ndim == 3 else int(self.volume.shape[3])

    @property
    def zooms(self) -> tuple[float, float, float]:
        """Canonical voxel size (X, Y, Z) in mm."""
        aff = self.affine if self.affine is not None else np.eye(4)
        return tuple(float(v) for v in np.sqrt((aff[:3, :3] ** 2).sum(axis=0)))

    def n_slices(self, axis: str = "axial") -> int:
        return orient.n_slices(self._need_volume().shape, axis)

    def slice(self, index: int, axis: str = "axial", t: int = 0) -> np.ndarray:
        """Display-oriented slice (H, W) float32 of the canonical volume.

        Orientation follows :mod:`core.io.orientation` (neurological: axial
        anterior up, patient's right on the viewer's right).
        """
        vol = self._need_volume()
        if vol.ndim == 4:
            if not -vol.shape[3] <= t < vol.shape[3]:
                raise ConfigError(f"time point {t} is out of range: the volume has {vol.shape[3]}")
            vol = vol[..., t]
        return orient.display_slice(vol, index, axis)

    def slice_spacing(self, axis: str = "axial") -> tuple[float, float]:
        """(row, col) mm of a display slice along ``axis``."""
        self._need_volume()
        return orient.axis_spacing(self.zooms, axis)

    @property
    def spatial_shape(self) -> tuple[int, int, int]:
        return tuple(self._need_volume().shape[:3])

    def place_slice(self, mask2d: np.ndarray, index: int, axis: str = "axial",
                    into: np.ndarray | None = None) -> np.ndarray:
        """Put a display-oriented (H, W) mask at slice ``index`` of a (X, Y, Z) bool volume.

        Writes into ``into`` (returned) or a new all-False volume.
        """
        vol = np.zeros(self.spatial_shape, bool) if into is None else into
        if vol.shape != self.spatial_shape:
            raise ConfigError(f"mask volume has shape {vol.shape}, expected {self.spatial_shape}")
        orient.place_slice(vol, np.asarray(mask2d, bool), index, axis)
        return vol

    def slices_to_volume(self, masks: dict[int, np.ndarray], axis: str = "axial") -> np.ndarray:
        """(X, Y, Z) bool canonical mask from display-oriented 2-D masks keyed by slice index."""
        vol = np.zeros(self.spatial_shape, bool)
        for index, mask in masks.items():
            self.place_slice(mask, int(index), axis, into=vol)
        return vol

    def mask_to_source(self, mask_volume: np.ndarray) -> np.ndarray:
        """Canonical (X, Y, Z) mask -> the source file's voxel order (I, J, K)."""
        if mask_volume.shape != self.spatial_shape:
            raise ConfigError(f"mask volume has shape {mask_volume.shape}, expected {self.spatial_shape}")
        return orient.to_source_order(np.asarray(mask_volume), self.source_ornt)

    def save_mask_nifti(self, mask_volume: np.ndarray, path: str | os.PathLike) -> Path:
        """Write a canonical (X, Y, Z) mask as a uint8 NIfTI that overlays the source file.

        The canonical reorientation is undone and the source's qform/sform
        (with their codes) are copied, so any viewer shows the mask on the same
        voxels of the original file.
        The file is written to a temporary name and renamed into place.
        """
        import nibabel as nib

        src = self.mask_to_source(mask_volume).astype(np.uint8)
        img = nib.Nifti1Image(src, self.source_affine)
        qform, qcode, sform, scode = self.source_xforms or (self.source_affine, 1, self.source_affine, 1)
        img.header.set_qform(qform, code=int(qcode))
        img.header.set_sform(sform, code=int(scode))
        img.header["descrip"] = b"EquiGuard mask"
        path = Path(path)
        with atomic_path(path) as tmp:
            nib.save(img, tmp)
        return path

    # ------------------------------------------------------------- rendering
    @cached_property
    def auto_window(self) -> Window:
        """Robust 0.5-99.5 percentile window over all the image's values."""
        return auto_window(self.pixels)

    def resolve_window(self, window: WindowSpec = None) -> Window:
        if window is None:
            return self.default_window
        if isinstance(window, Window):
            return window
        if window == "auto":
            return self.auto_window
        if window == "default":
            return self.default_window
        if window in WINDOW_PRESETS:
            return WINDOW_PRESETS[window]
        names = ", ".join(["default", "auto", *WINDOW_PRESETS])
        raise ConfigError(f"unknown window {window!r}; use one of {names}")

    def render(self, index: int = 0, window: WindowSpec = None, axis: str | None = None,
               t: int = 0) -> np.ndarray:
        """Display values in [0, 1], float32: (H, W), or (H, W, 3) for RGB.

        ``axis=None`` renders frame ``index``; an axis name renders that
        volume slice.  The window maps modality values to [0, 1]; MONOCHROME1
        is inverted afterwards (its low values are white).
        """
        plane = self.frame(index) if axis is None else self.slice(index, axis, t)
        out = apply_window(plane, self.resolve_window(window))
        if self.photometric == "MONOCHROME1":
            np.subtract(1.0, out, out=out)
        return np.nan_to_num(out, nan=0.0, copy=False)
