"""Widgets and glue the pages share (not pages themselves; Streamlit ignores this folder):

    architecture  the sidebar's family, preset and knob widgets, mirrored into the URL
    caches        analyses computed once per canonical query and shared by every session
    device        the device picker, the one device lookup, the bf16 toggle, the memory note
    inputs        the image picker and the uploaded-checkpoint loader
    routing       the one workaround for Streamlit's legacy pages/ mode (see its docstring)
    state         typed values kept in the session (no string keys scattered over the pages)

Only layout and caching here; what the controls are and how values become a config is decided in
``explorer.controls``, and every computation in ``explorer``.
"""
