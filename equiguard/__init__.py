"""EquiGuard Studio's own Streamlit components (the logic behind them lives in ``core``).

``equiguard.viewer.roi_viewer`` is the image viewer and ROI editor of the
Annotate page.  This package is importable under the project's name on
purpose: Streamlit finds a Custom Components v2 ``asset_dir`` through the
package named like the installed project (see ``equiguard/pyproject.toml``).
"""

__all__ = ["viewer"]
