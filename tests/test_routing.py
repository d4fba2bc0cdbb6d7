"""The one Streamlit workaround (pages/_shared/routing.py) writes a private attribute of Streamlit's
``PagesManager``. If an upgrade renames or removes it, this fails loudly instead of the app silently
running pages without their router (upstream: streamlit/streamlit#9992, #10276)."""

from __future__ import annotations

from streamlit.runtime.pages_manager import PagesManager

from pages._shared import routing


def test_streamlit_still_has_the_legacy_pages_flag_the_workaround_writes():
    assert hasattr(PagesManager, routing.LEGACY_FLAG), (
        f"streamlit's PagesManager has no '{routing.LEGACY_FLAG}' any more: pages/_shared/routing.py must be "
        "rewritten for this Streamlit version (see streamlit/streamlit#9992)"
    )
    # None until Streamlit first decides (on the first script run), then a bool.
    assert getattr(PagesManager, routing.LEGACY_FLAG) in (None, True, False)
    assert "uses_pages_directory" in PagesManager.__annotations__


def test_the_flag_is_what_legacy_pages_mode_reads():
    saved = getattr(PagesManager, routing.LEGACY_FLAG)
    try:
        setattr(PagesManager, routing.LEGACY_FLAG, True)
        assert routing.legacy_pages_mode()
        setattr(PagesManager, routing.LEGACY_FLAG, False)
        assert not routing.legacy_pages_mode()
    finally:
        setattr(PagesManager, routing.LEGACY_FLAG, saved)


def test_a_runs_context_still_says_whether_back_or_forward_asked_for_it_and_which_page_runs():
    """The sidebar tells a stale URL from the user's back/forward by these fields (see
    pages/_shared/architecture.py); an upgrade that drops them must fail here, not lose slider moves."""
    from streamlit.runtime.scriptrunner_utils.script_run_context import ScriptRunContext

    assert routing.HISTORY_FLAG in ScriptRunContext.__dataclass_fields__
    assert isinstance(getattr(ScriptRunContext, routing.PAGE_FIELD), property)
    assert routing.history_navigation() is False and routing.current_page() == ""  # outside a run


def test_streamlit_still_keeps_uploads_in_a_manager_that_can_forget_one():
    """forget_upload (pages/_shared/routing.py) drops a loaded checkpoint's bytes through this method."""
    from streamlit.runtime.memory_uploaded_file_manager import MemoryUploadedFileManager

    assert callable(MemoryUploadedFileManager.remove_file)
