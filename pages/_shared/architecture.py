"""The sidebar's architecture controls, mirrored into the URL (the URL is the config)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import streamlit as st

from explorer.config import default_config, matching_preset, parse_query
from explorer.controls import IO_KEYS, Control, config_from_values, controls_for
from explorer.families import FAMILIES
from explorer.knobs import ConfigError, ModelConfig, presets_of, query_to_dict
from pages._shared.routing import current_page, ensure_router, history_navigation
from pages._shared.state import URL_SYNC, UrlSync

DEFAULT_QUERY = "preset=resnet18"
CUSTOM = "(custom)"


def current_config() -> ModelConfig | None:
    """The config this session last showed (None before its first page)."""
    sync = URL_SYNC.get()
    return None if sync is None else sync.config


def _widget_key(family: str, control: Control) -> str:
    return f"knob.{family}.{control.state_key}"


def _page_params() -> dict[str, str]:
    """The URL parameters that belong to the current page (declared by its ``page_keys``)."""
    keys = URL_SYNC.get_or_create().page_keys
    return {k: v for k, v in st.query_params.to_dict().items() if k in keys}


def _config_params() -> dict[str, str]:
    keys = URL_SYNC.get_or_create().page_keys
    return {k: v for k, v in st.query_params.to_dict().items() if k not in keys}


def _set_url(config: ModelConfig) -> None:
    st.query_params.from_dict(query_to_dict(config.query) | _page_params())


def _choose(config: ModelConfig) -> None:
    """Show ``config`` from now on (a preset, family or button chose it): URL and widgets follow."""
    sync = URL_SYNC.get_or_create()
    sync.config, sync.chosen = config, True
    _set_url(config)


def page_param(key: str, default: str | None = None) -> str | None:
    """A page's own URL parameter (one of the ``page_keys`` it passed to ``architecture_controls``)."""
    return st.query_params.get(key, default)


def set_page_param(key: str, value: str | None) -> None:
    """Set (or, with None, remove) a page's own URL parameter; the config's keys stay as they are."""
    if value is None:
        if key in st.query_params:
            del st.query_params[key]
    else:
        st.query_params[key] = value


def _sync_widgets(config: ModelConfig) -> None:
    """Make every widget show ``config`` (after a link, a preset or a family was chosen)."""
    st.session_state["family"] = config.family
    st.session_state[f"preset.{config.family}"] = matching_preset(config) or CUSTOM
    for control in controls_for(config):
        st.session_state[_widget_key(config.family, control)] = control.value


def _on_family() -> None:
    _choose(default_config(st.session_state["family"]))


def _on_preset(family: str) -> None:
    name = st.session_state[f"preset.{family}"]
    if name != CUSTOM:
        _choose(parse_query(f"preset={name}"))


def _on_auto(config: ModelConfig, key: str) -> None:
    _choose(type(config)(**{**_explicit(config), key: None}))


def _explicit(config: ModelConfig) -> dict[str, Any]:
    return {c.key: getattr(config, c.key) for c in controls_for(config)}


def _url_config(sync: UrlSync) -> ModelConfig | None:
    params = _config_params()
    if not params:
        return None
    try:
        return parse_query(params)
    except ConfigError as error:
        sync.link_error = f"The link's configuration is not valid: {error}. Showing the last valid one instead."
        sync.link_fallback = None
        return None


def _show_link_error(sync: UrlSync, shown: ModelConfig) -> None:
    """Say why a link was refused for as long as its fallback is shown unchanged.

    The URL holds the fallback's query once the refusing run has written it, so a later run (a fresh
    process's start-up rerun comes a second after its first page) finds nothing wrong with it: the
    reason is kept in the session instead, and dropped by the first change of design."""
    if sync.link_error is None:
        return
    if sync.link_fallback is None:
        sync.link_fallback = shown.query
    if sync.link_fallback != shown.query:
        sync.link_error = sync.link_fallback = None
        return
    st.error(sync.link_error)


def _render(control: Control, family: str, container: Any) -> Any:
    key = _widget_key(family, control)
    if key not in st.session_state:
        st.session_state[key] = control.value
    common = {"key": key, "help": control.help}
    if control.widget == "toggle":
        return container.toggle(control.label, **common)
    if control.widget == "radio":
        return container.radio(control.label, control.options, horizontal=True, **common)
    if control.widget == "select":
        return container.selectbox(control.label, control.options, **common)
    if control.widget == "select_slider":
        if st.session_state[key] not in control.options:
            st.session_state[key] = control.value
        return container.select_slider(control.label, control.options, **common)
    if control.widget == "multiselect":
        return container.multiselect(control.label, control.options, **common)
    if control.widget == "text":
        return container.text_input(control.label, placeholder="auto", **common)
    if control.widget == "number":
        return container.number_input(
            control.label, min_value=int(control.minimum or 0), max_value=int(control.maximum or 1), step=1, **common
        )
    is_int = isinstance(control.value, int) and float(control.step or 1).is_integer()
    cast = int if is_int else float
    label = f"{control.label} (auto)" if control.auto else control.label
    assert control.minimum is not None and control.maximum is not None and control.step is not None  # a slider's
    value = container.slider(
        label,
        min_value=cast(control.minimum),
        max_value=cast(control.maximum),
        step=cast(control.step),
        **common,
    )
    return value


def _config_to_show(sync: UrlSync) -> ModelConfig:
    """The URL's config, unless this run's URL is stale or this session chose one on purpose.

    A rerun carries the URL the browser held when it asked for it. A slider moved twice within one
    run, or the device picker's rerun while PyTorch loads (seconds), asks again before the browser
    has received the URL the first move wrote: that request brings an older URL of this session's
    once more, and taking it would throw the user's move away. A URL this session never showed (a
    link), a link into another page, and the browser's back and forward win.
    """
    chosen, sync.chosen = sync.chosen, False
    page, sync.page = sync.page, current_page()
    url = _url_config(sync)
    if chosen and sync.config is not None:
        return sync.config  # the callback wrote it to the URL too; this run's URL is the one before
    stale = (
        url is not None
        and sync.config is not None
        and url.query != sync.synced
        and url.query in sync.shown
        and page == sync.page
        and not history_navigation()
    )
    if stale:
        assert sync.config is not None
        return sync.config
    return url or sync.config or parse_query(DEFAULT_QUERY)


def architecture_controls(page_keys: Sequence[str] = ()) -> ModelConfig:
    """The sidebar's family, preset and knob widgets; returns the config they describe.

    The URL is the source of truth: a link (or a preset or family choice) rewrites the widgets;
    a moved widget rewrites the URL to the config's canonical query string. ``page_keys`` are URL
    parameters the page keeps for itself (e.g. pinned configs to compare); they are not config keys
    and survive config changes (read and write them with ``page_param`` / ``set_page_param``).
    """
    ensure_router()
    sync: UrlSync = URL_SYNC.get_or_create()
    sync.page_keys = tuple(page_keys)
    config = _config_to_show(sync)
    if sync.synced != config.query:
        _sync_widgets(config)
        sync.remember(config)

    sidebar = st.sidebar
    sidebar.selectbox(
        "Family", list(FAMILIES), key="family", format_func=lambda f: FAMILIES[f].title, on_change=_on_family
    )
    presets = [CUSTOM, *presets_of(config.family)]
    sidebar.selectbox("Preset", presets, key=f"preset.{config.family}", on_change=_on_preset, args=(config.family,))

    values: dict[str, Any] = {}
    controls = controls_for(config)
    io = None
    for control in sorted(controls, key=lambda c: c.key in IO_KEYS):  # architecture first, then I/O
        if control.key in IO_KEYS and io is None:
            io = sidebar.expander("Input and output", expanded=False)
        container = io if control.key in IO_KEYS and io is not None else sidebar
        values[control.key] = _render(control, config.family, container)
        explicit_override = getattr(type(config)(), control.key) is None and getattr(config, control.key) is not None
        if explicit_override and control.widget in ("slider", "text"):
            container.button(
                f"{control.key}: back to auto",
                key=f"auto.{config.family}.{control.key}",
                on_click=_on_auto,
                args=(config, control.key),
                type="tertiary",
            )

    try:
        new = config_from_values(config, values)
    except ConfigError as error:
        sidebar.error(f"{error}")
        new = config
    sync.remember(new)  # before the URL is written: see UrlSync.remember
    _show_link_error(sync, new)
    if new.query != config.query or query_to_dict(new.query) != _config_params():
        _set_url(new)
    return new


def show_config(config: ModelConfig) -> None:
    """Make ``config`` the page's config (the URL changes; the widgets follow on the next run)."""
    _choose(config)
