"""Mounting the viewer component: modality values as media files, everything else as JSON.

The browser fetches each chunk of raw modality values once from Streamlit's
media endpoint (content-addressed URLs, so a rerun that shows the same image
costs no transfer) and windows it itself; ROIs, overlays and proposals go in
the component's JSON data.  A Save in the browser sets the ``save`` trigger;
its callback runs *before* the page script, so the page already lists the
stored result when it reruns, and the viewer gets the outcome (``ack``).
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import streamlit as st

from core.errors import ConfigError, EquiGuardError
from core.viewer import (DEFAULT_CONVENTION, PALETTE, EncodedPlanes, SaveReport, SaveRequest, describe_convention,
                         display_flip, label_colour, orientation_labels, parse_save)

__all__ = ["roi_viewer", "ViewerResult", "COMPONENT_NAME"]

#: "<project>.<component>" as declared in equiguard/pyproject.toml.
COMPONENT_NAME = "equiguard.viewer"
_LOG = logging.getLogger(__name__)


@functools.cache
def _component():
    """Registered on first use: the asset_dir manifest is only known inside a running Streamlit runtime."""
    return st.components.v2.component(COMPONENT_NAME, js="viewer.js", css="viewer.css", isolate_styles=True)


@dataclass
class ViewerResult:
    """What happened in the viewer during this run: the report of a save handled just now, if any."""

    report: SaveReport | None = None


def _media_urls(planes: EncodedPlanes, key: str) -> list[str]:
    from streamlit import runtime

    manager = runtime.get_instance().media_file_mgr
    return [manager.add(chunk, "application/gzip", f"{key}.planes.{i}") for i, chunk in enumerate(planes.chunks)]


def _handle_save(key: str, uid: str, meta: Mapping[str, Any], on_save: Callable[[SaveRequest], SaveReport]) -> None:
    payload = (st.session_state.get(key) or {}).get("save")
    if not payload:
        return
    save_id = str(payload.get("save_id", "")) if isinstance(payload, Mapping) else ""
    try:
        if not isinstance(payload, Mapping) or payload.get("uid") != uid:
            raise ConfigError("the viewer switched images while saving; press Save again")
        request = parse_save(payload, tuple(meta["shape"]), meta["n"] if meta["n"] > 1 else None)
        report = on_save(request)
    except EquiGuardError as exc:
        report = SaveReport(save_id, error=str(exc))
    except Exception as exc:  # noqa: BLE001 - the browser keeps the drawing; the message names the failure
        _LOG.exception("viewer save failed")
        report = SaveReport(save_id, error=f"unexpected {type(exc).__name__}; please report it")
    st.session_state[f"{key}::ack"] = report.to_ack()
    st.session_state[f"{key}::report"] = report


def roi_viewer(planes: EncodedPlanes, *, key: str, uid: str, rois: Sequence[Mapping[str, Any]] = (),
               overlays: Sequence[Mapping[str, Any]] = (), proposals: Sequence[Mapping[str, Any]] = (),
               slice_index: int | None = None, convention: str = DEFAULT_CONVENTION,
               labels: Sequence[str] = (), active_label: str = "lesion",
               on_save: Callable[[SaveRequest], SaveReport] | None = None, height: int = 640) -> ViewerResult:
    """Show ``planes`` with editable ``rois`` (see :func:`core.viewer.roi_payload` for each ROI's JSON).

    - ``uid`` names the plane stack (e.g. file hash + axis): unsaved edits are kept per uid in the
      browser, so switching images and back loses nothing.
    - ``overlays``: read-only ROIs (own ``colour``/``name``), drawn dashed, never saved.
    - ``proposals``: ROIs the reader may accept (A / Enter) or edit; saved edits carry
      ``proposal`` = the proposal's ``name``.
    - ``on_save(request) -> SaveReport`` writes the edits (e.g. :func:`core.viewer.apply_save`);
      an exception becomes a refused save whose message the viewer shows, drawing kept.
    - ``convention``: ``"radiological"`` (default) or ``"neurological"``; a view transform only.
    """
    meta = planes.meta
    if on_save is not None:
        callback = lambda: _handle_save(key, uid, meta, on_save)  # noqa: E731
    else:
        callback = lambda: None  # noqa: E731
    names = sorted({*labels, active_label, *(r["label"] for r in rois)} - {""})
    data = {
        "name": key, "uid": uid, "image": meta, "urls": _media_urls(planes, key),
        "slice": slice_index if slice_index is not None else meta["n"] // 2,
        "rois": list(rois), "overlays": list(overlays), "proposals": list(proposals),
        "flip": display_flip(meta["axis"], convention), "orientation": orientation_labels(meta["axis"], convention),
        "convention_text": describe_convention(meta["axis"], convention),
        "active_label": active_label, "label_colours": {n: label_colour(n) for n in names},
        "palette": list(PALETTE), "height": int(height), "ack": st.session_state.get(f"{key}::ack"),
    }
    _component()(key=key, data=data, on_save_change=callback, width="stretch", height="content")
    return ViewerResult(st.session_state.pop(f"{key}::report", None))
