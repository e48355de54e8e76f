"""EquiGuard Studio entry point: ``streamlit run app.py`` (or ``make run``).

The pages live in ``pages/``; this file only builds the navigation.  The
workspace is ``$EQUIGUARD_WORKSPACE`` or ``./data``.
"""

import sys
from pathlib import Path

import streamlit as st

PAGES_DIR = Path(__file__).resolve().parent / "pages"
# Pages share small widgets from pages/_ui.py; make it importable whichever
# script Streamlit runs first.
if str(PAGES_DIR) not in sys.path:
    sys.path.insert(0, str(PAGES_DIR))

st.set_page_config(page_title="EquiGuard Studio", page_icon="🛡️", layout="wide")

navigation = st.navigation(
    {
        "Studio": [
            st.Page(PAGES_DIR / "home.py", title="Home", icon="🏠", default=True),
            st.Page(PAGES_DIR / "annotate.py", url_path="annotate", title="Annotate", icon="✏️"),
        ],
        "Expert-guided few-shot": [
            st.Page(PAGES_DIR / "fewshot.py", url_path="fewshot", title="Few-shot training", icon="🧠"),
        ],
        "Symmetry & robustness": [
            st.Page(PAGES_DIR / "symmetry.py", url_path="symmetry", title="Symmetry models", icon="🔄"),
            st.Page(PAGES_DIR / "attack_lab.py", url_path="attack_lab", title="Attack lab", icon="⚔️"),
            st.Page(PAGES_DIR / "robustness.py", url_path="robustness", title="Robustness report", icon="📈"),
        ],
    }
)
navigation.run()
