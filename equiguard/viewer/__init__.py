"""The radiologist-grade image viewer and ROI editor, as a Streamlit widget.

``roi_viewer(planes, key=..., uid=..., rois=..., on_save=...)`` shows a plane
stack (:func:`core.viewer.encode_planes`) with window/level, zoom, pan, slice
scrolling, brush/eraser/polygon/freehand/rectangle/ellipse tools, vertex
editing, undo/redo and hotkeys, all in the browser.  On Save it hands a
:class:`core.viewer.SaveRequest` to ``on_save`` and shows the returned
:class:`core.viewer.SaveReport` in the viewer.  See ``docs/architecture.md``.
"""

from equiguard.viewer.component import COMPONENT_NAME, ViewerResult, roi_viewer

__all__ = ["roi_viewer", "ViewerResult", "COMPONENT_NAME"]
