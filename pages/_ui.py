"""Small Streamlit widgets shared by the pages (no logic beyond display).

Imported as ``from pages import _ui`` (Streamlit puts the folder of ``app.py``
on ``sys.path``).
"""

from __future__ import annotations

import logging

import streamlit as st

from core.errors import EquiGuardError, safe_traceback, user_message
from core.workspace import Workspace

__all__ = ["workspace", "reader", "annotator", "job_table", "job_curves", "show_error", "STATUS_ICON"]

STATUS_ICON = {"queued": ":material/schedule:", "running": ":blue[:material/sync:]",
               "done": ":green[:material/check_circle:]", "failed": ":red[:material/error:]",
               "cancelled": ":gray[:material/cancel:]"}


def _leave_legacy_multipage_mode() -> None:
    """Make a deep link on a fresh server show the page inside ``app.py``'s navigation.

    Streamlit still treats a folder named ``pages`` next to the main script as
    a legacy multipage app until the first ``st.navigation`` call.  So when the
    very first request to a new server is a deep link such as ``/annotate``,
    it runs that page file directly, without the navigation and page config
    of ``app.py``.  Leaving legacy mode and rerunning lets ``app.py`` run and
    resolve the same URL (page hashes derive from the URL path in both modes).
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


_leave_legacy_multipage_mode()


@st.cache_resource(show_spinner=False)
def _workspace_for(root: str) -> Workspace:
    return Workspace(root)


def workspace() -> Workspace:
    """The studio's workspace: ``$EQUIGUARD_WORKSPACE`` or ``./data``; a damaged or newer store stops the page."""
    from core.store import StoreError, check_store
    from core.workspace import default_workspace_root

    ws = _workspace_for(str(default_workspace_root()))
    try:
        check_store(ws)
    except StoreError as exc:
        show_error(exc)
        st.stop()
    return ws


def _oidc_enabled() -> bool:
    """True when ``.streamlit/secrets.toml`` has an ``[auth]`` section (Streamlit's OIDC login)."""
    return bool(st.secrets.load_if_toml_exists() and "auth" in st.secrets)


def _oidc_reader():
    """The logged-in user as a reader; adjudicators are listed in secrets ``[equiguard] adjudicators``."""
    from core.store import AnnotationStore

    if not st.user.is_logged_in:
        st.sidebar.button("Log in", icon=":material/login:", on_click=st.login, key="reader_login")
        st.sidebar.caption("Log in to read and annotate.")
        return None
    name = str(st.user.get("name") or st.user.get("email") or "")
    email = str(st.user.get("email") or "")
    adjudicators = set(st.secrets.get("equiguard", {}).get("adjudicators", []))
    role = "adjudicator" if (email and email in adjudicators) or name in adjudicators else "reader"
    try:
        profile = AnnotationStore(workspace()).register_reader(name, role)
    except EquiGuardError as exc:
        show_error(exc)
        return None
    st.sidebar.caption(f"Reading as **{profile.name}** · {profile.role}")
    st.sidebar.button("Log out", on_click=st.logout, key="reader_logout")
    return profile


def reader():
    """The session's reader profile (:class:`core.store.Reader`), chosen once in the sidebar; None until then.

    With Streamlit's OIDC login configured (docs/user-guide.md) the reader is
    the verified ``st.user``; otherwise the reader types a name and picks a
    role once per browser session (kept in ``st.session_state``).
    """
    from core.store import ROLES, AnnotationStore, Reader

    if _oidc_enabled():
        return _oidc_reader()
    chosen = st.session_state.get("reader_profile")
    if chosen is not None:
        profile = Reader(*chosen)
        st.sidebar.caption(f"Reading as **{profile.name}** · {profile.role}")
        if st.sidebar.button("Change reader", key="reader_change"):
            del st.session_state["reader_profile"]
            st.rerun()
        return profile
    with st.sidebar.form("reader_profile_form"):
        st.markdown("**Reader profile**")
        name = st.text_input("Reader name", key="reader_name", help="stored with every ROI, label and edit you save")
        role = st.radio("Role", ROLES, horizontal=True, key="reader_role",
                        help="an adjudicator sees every reader's work, also in blinded mode")
        started = st.form_submit_button("Start reading")
    if started:
        try:
            profile = AnnotationStore(workspace()).register_reader(name, role)
        except EquiGuardError as exc:
            show_error(exc)
            return None
        st.session_state["reader_profile"] = (profile.name, profile.role)
        st.rerun()
    return None


def annotator() -> str:
    """The session reader's name ("" until a profile is chosen): what the store records as ``annotator``."""
    profile = reader()
    return "" if profile is None else profile.name


def show_error(exc: BaseException) -> None:
    """One-line message for user errors; anything else is shown as a bug (type only, traceback to the log).

    Library messages can quote the data that made them fail, so a bug's
    message is never shown and its logged traceback leaves it out too.
    """
    if isinstance(exc, EquiGuardError):
        st.error(user_message(exc), icon=":material/warning:")
    else:
        logging.getLogger("equiguard.studio").error(safe_traceback(exc))
        st.error(user_message(exc), icon=":material/bug_report:")


def _fmt_time(iso: str | None) -> str:
    """The time of day of a store timestamp (ISO 8601, UTC)."""
    return iso[11:19] + " UTC" if iso and len(iso) >= 19 else "–"


def job_table(ws: Workspace, kind: str | None = None, key: str = "jobs", limit: int = 8,
              allow_cancel: bool = True, kinds: tuple[str, ...] | None = None, match=None) -> list:
    """Render recent jobs (of ``kind``, or any of ``kinds``, passing ``match``) with progress and cancel buttons."""
    from core.jobs import cancel_job, job_log, list_jobs

    jobs = list_jobs(ws, kind=kind)
    if kinds is not None:
        jobs = [j for j in jobs if j.kind in kinds]
    if match is not None:
        jobs = [j for j in jobs if match(j)]
    jobs = jobs[:limit]
    if not jobs:
        st.caption("No jobs yet.")
        return jobs
    for job in jobs:
        with st.container(border=True):
            cols = st.columns([5, 2, 1])
            cols[0].markdown(f"{STATUS_ICON.get(job.status, '')} **#{job.id} {job.title}**",
                             help="python -m core " + " ".join(job.argv))
            cols[1].caption(f"{job.status} · started {_fmt_time(job.started_at)}")
            if allow_cancel and job.status in ("queued", "running"):
                if cols[2].button("Cancel", key=f"{key}-cancel-{job.id}"):
                    cancel_job(ws, job.id)
                    st.rerun()
            last = job.last_event or {}
            fraction = None
            if last.get("total"):
                fraction = min(1.0, max(0.0, last["step"] / last["total"]))
            if job.status == "done":
                fraction = 1.0
            if last.get("message") and job.status in ("queued", "running"):
                st.caption(last["message"])
            if fraction is not None:
                metrics = ", ".join(f"{k} {v:.3g}" for k, v in (last.get("metrics") or {}).items())
                text = f"{last.get('stage', '')} {last.get('step', '')}/{last.get('total', '')}"
                st.progress(fraction, text=f"{text}  {metrics}".strip())
            if job.status == "failed":
                st.error(job.error or "failed", icon=":material/error:")
                tail = job_log(ws, job.id, lines=8)
                if tail:
                    with st.expander("log"):
                        st.code(tail)
    return jobs


def job_curves(ws: Workspace, job_ids: dict[str, int], metrics: tuple[str, ...] = ("loss", "acc"),
               stage: str | None = None, key: str = "curves") -> None:
    """Plotly line charts of each metric over the jobs' progress events (one line per job)."""
    import plotly.graph_objects as go

    from core.studio import event_series

    series = {name: event_series(ws, job_id, stage=stage) for name, job_id in job_ids.items()}
    cols = st.columns(len(metrics))
    for col, metric in zip(cols, metrics):
        fig = go.Figure()
        for name, table in series.items():
            points = table.get(metric)
            if points:
                xs, ys = zip(*points)
                fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines+markers", name=name))
        if not fig.data:
            col.caption(f"no {metric} reported yet")
            continue
        fig.update_layout(title=metric, height=340, margin=dict(l=10, r=10, t=50, b=10),
                          xaxis_title="reported step", legend=dict(orientation="h", yanchor="top", y=-0.3, x=0))
        col.plotly_chart(fig, key=f"{key}-{metric}")
