"""EquiGuard Studio entry point: ``streamlit run app.py`` (or ``make run``).

The pages live in ``pages/``; this file only builds the navigation.  The
workspace is ``$EQUIGUARD_WORKSPACE`` or ``./data``.  (``pages/_ui.py`` handles
Streamlit's legacy handling of a folder named ``pages``: see
``_leave_legacy_multipage_mode`` there.)
"""

from pathlib import Path

import streamlit as st

PAGES_DIR = Path(__file__).resolve().parent / "pages"

st.set_page_config(page_title="EquiGuard Studio", page_icon=":material/shield:", layout="wide")

navigation = st.navigation(
    {
        "Studio": [
            st.Page(PAGES_DIR / "home.py", title="Home", icon=":material/home:", default=True),
            st.Page(PAGES_DIR / "annotate.py", url_path="annotate", title="Annotate", icon=":material/draw:"),
            st.Page(PAGES_DIR / "agreement.py", url_path="agreement", title="Agreement", icon=":material/group:"),
        ],
        "Expert-guided few-shot": [
            st.Page(PAGES_DIR / "fewshot.py", url_path="fewshot", title="Few-shot training", icon=":material/psychology:"),
        ],
        "Symmetry & robustness": [
            st.Page(PAGES_DIR / "symmetry.py", url_path="symmetry", title="Symmetry models", icon=":material/360:"),
            st.Page(PAGES_DIR / "attack_lab.py", url_path="attack_lab", title="Attack lab", icon=":material/swords:"),
            st.Page(PAGES_DIR / "robustness.py", url_path="robustness", title="Robustness report", icon=":material/monitoring:"),
        ],
    }
)
navigation.run()
