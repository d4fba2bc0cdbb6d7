"""Streamlit internals the app relies on, isolated here: the workaround for the legacy ``pages/``
mode, what a run's context says about its request (back/forward, the page), and letting go of an
upload's bytes.

The legacy mode: the design keeps the folder name ``pages/`` (one file per view). Streamlit treats a ``pages/``
folder beside the main script as its legacy multipage app: a page's URL opened on a fresh server
runs that file alone, without ``app.py``'s ``st.navigation`` (and its sidebar), until some session
has run ``st.navigation`` (upstream: streamlit/streamlit#9992, and the pages-folder notes in
streamlit/streamlit#10276). Leaving that mode means writing Streamlit's private class attribute
``PagesManager.uses_pages_directory``; ``tests/test_routing.py`` fails loudly if an upgrade
renames or removes it, so the workaround cannot silently stop working.
"""

from __future__ import annotations

import streamlit as st
from streamlit.runtime.memory_uploaded_file_manager import MemoryUploadedFileManager
from streamlit.runtime.pages_manager import PagesManager
from streamlit.runtime.scriptrunner import get_script_run_ctx
from streamlit.runtime.uploaded_file_manager import UploadedFile

#: The private attribute the workaround writes (checked by tests/test_routing.py).
LEGACY_FLAG = "uses_pages_directory"
_STARTED = "routing.session_started"


def legacy_pages_mode() -> bool:
    return bool(getattr(PagesManager, LEGACY_FLAG))


def ensure_router() -> None:
    """Leave the legacy mode and rerun through ``app.py``, on a session's first run only.

    Only on the first run, where no click can be pending that a rerun would drop (AppTest turns
    the legacy mode back on before every run; its later runs render the page alone)."""
    first_run = _STARTED not in st.session_state
    st.session_state[_STARTED] = True
    if legacy_pages_mode():
        setattr(PagesManager, LEGACY_FLAG, False)
        if first_run:
            st.rerun()


#: What a run's context tells about the request behind it (checked by tests/test_routing.py): whether
#: the browser's back or forward asked for it, and which page it runs.
HISTORY_FLAG = "is_history_navigation"
PAGE_FIELD = "page_script_hash"


def history_navigation() -> bool:
    """Whether the browser's back or forward button asked for this run (its URL is the user's)."""
    ctx = get_script_run_ctx()
    return bool(ctx is not None and getattr(ctx, HISTORY_FLAG))


def current_page() -> str:
    """The running page's script hash ("" outside a run)."""
    ctx = get_script_run_ctx()
    return "" if ctx is None else str(getattr(ctx, PAGE_FIELD))


def forget_upload(upload: UploadedFile) -> None:
    """Drop an upload's bytes from the server's memory now, not when the session ends.

    Streamlit keeps every uploaded file of a session until the session ends or the user removes it
    in the browser; a checkpoint that was loaded (or refused) is of no more use, and 30 students'
    uploads would otherwise stay in the server's memory (issue 27). The uploader that held it must be
    replaced by a fresh one (a new key) on the next run. Streamlit's own chat input does the same."""
    ctx = get_script_run_ctx()
    if ctx is not None and isinstance(ctx.uploaded_file_mgr, MemoryUploadedFileManager):
        ctx.uploaded_file_mgr.remove_file(session_id=ctx.session_id, file_id=upload.file_id)
