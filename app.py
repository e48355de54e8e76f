"""EquiGuard Studio entry point: ``streamlit run app.py`` (or ``make run``)."""

import streamlit as st

st.set_page_config(page_title="EquiGuard Studio", page_icon="🛡️", layout="wide")
st.title("EquiGuard Studio")
st.write(
    "Symmetry-aware CNNs for adversarial robustness, and expert-guided explainable "
    "few-shot learning for medical images."
)
