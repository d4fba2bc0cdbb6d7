"""Widgets shared by the pages (not a page itself): the architecture controls that mirror the
config into the URL, the device picker, and the cached analyses. Only layout and caching here;
what the controls are and how values become a config is decided in ``explorer.controls``."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import streamlit as st
from PIL import Image
from streamlit.runtime.pages_manager import PagesManager

from explorer.analysis.graph_data import LayerGraph
from explorer.analysis.profile import Profile, profile
from explorer.config import (
    FAMILIES,
    PRESETS,
    ConfigError,
    ModelConfig,
    default_config,
    matching_preset,
    parse_query,
    query_to_dict,
)
from explorer.controls import IO_KEYS, Control, config_from_values, controls_for
from explorer.data.images import ImageError, decode_image
from explorer.data.samples import CREDITS, SAMPLES, load_sample, shape_image
from explorer.data.shapes import CLASSES
from explorer.runtime.device import available_devices, best_device, describe
from explorer.runtime.guard import budget_bytes, estimate
from explorer.runtime.weights import ExplainableModel, with_checkpoint

DEFAULT_QUERY = "preset=resnet18"
CUSTOM = "(custom)"


# -- cached analyses (keyed by the canonical query string) -----------------------------------
@st.cache_data(max_entries=256, show_spinner=False)
def cached_profile(query: str) -> Profile:
    return profile(parse_query(query))


@st.cache_data(max_entries=32, show_spinner=False)
def cached_graph(query: str) -> LayerGraph:
    from explorer.analysis.graph import layer_graph

    return layer_graph(parse_query(query))


@st.cache_data(max_entries=64, show_spinner=False)
def cached_summary(query: str) -> str:
    from explorer.analysis.summary import summary_text

    return summary_text(parse_query(query))


# -- device --------------------------------------------------------------------------------
#: The session's device choice, kept under a key of its own: a widget's state is dropped on a run
#: that does not draw the widget (a page rendered alone, as AppTest's later runs are).
DEVICE_CHOICE = "device_choice"


def _chosen_device() -> str:
    choice = st.session_state.get(DEVICE_CHOICE, "auto")
    return choice if choice in ("auto", *available_devices()) else "auto"


def device_sidebar() -> str:
    """The device picker in the sidebar; returns the chosen device name (auto resolves)."""
    choices = ["auto", *available_devices()]
    choice = st.sidebar.selectbox(
        "Device",
        choices,
        index=choices.index(_chosen_device()),
        key="device",
        help="auto: CUDA, then Apple MPS, then CPU",
    )
    st.session_state[DEVICE_CHOICE] = choice
    device = best_device(choice)
    st.sidebar.caption(f"Models run on **{describe(device)}**")
    return device.type


def current_device() -> str:
    """The device the sidebar's picker resolves to (``cpu``, ``cuda`` or ``mps``): the one lookup."""
    return best_device(_chosen_device()).type


def bf16_toggle(prefix: str) -> bool:
    """Train under bfloat16 autocast? Off by default: training then computes in full float32."""
    return st.toggle(
        "bf16 autocast",
        value=False,
        key=f"{prefix}.bf16",
        help="Training only: bfloat16 autocast is faster on recent GPUs, and its numbers differ slightly between "
        "devices. Off: full float32 (TF32 off), the same numbers on every device.",
    )


def memory_note(result: Profile) -> tuple[bool, str]:
    """Whether a forward pass fits the device budget, and a sentence saying so."""
    device = best_device(current_device())
    need = estimate(result).total_bytes
    budget = budget_bytes(device)
    fits = need <= budget
    verdict = "fits" if fits else "does NOT fit"
    return (
        fits,
        f"A forward pass at batch 1 needs about {need / 1e6:,.0f} MB: {verdict} the "
        f"{budget / 1e9:.1f} GB budget on {device.type}.",
    )


# -- architecture controls -----------------------------------------------------------------
def _widget_key(family: str, control: Control) -> str:
    return f"knob.{family}.{control.state_key}"


def _page_params() -> dict[str, str]:
    """The URL parameters that belong to the current page (declared by its ``page_keys``)."""
    keys = st.session_state.get("_page_keys", ())
    return {k: v for k, v in st.query_params.to_dict().items() if k in keys}


def _config_params() -> dict[str, str]:
    keys = st.session_state.get("_page_keys", ())
    return {k: v for k, v in st.query_params.to_dict().items() if k not in keys}


def _set_url(config: ModelConfig) -> None:
    st.query_params.from_dict(query_to_dict(config.query) | _page_params())


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
    _set_url(default_config(st.session_state["family"]))


def _on_preset(family: str) -> None:
    name = st.session_state[f"preset.{family}"]
    if name != CUSTOM:
        _set_url(parse_query(f"preset={name}"))


def _on_auto(config: ModelConfig, key: str) -> None:
    _set_url(type(config)(**{**_explicit(config), key: None}))


def _explicit(config: ModelConfig) -> dict[str, Any]:
    return {c.key: getattr(config, c.key) for c in controls_for(config)}


def _url_config() -> ModelConfig | None:
    params = _config_params()
    if not params:
        return None
    try:
        return parse_query(params)
    except ConfigError as error:
        st.error(f"The link's configuration is not valid: {error}. Showing the last valid one instead.")
        return None


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
    value = container.slider(
        label,
        min_value=cast(control.minimum),
        max_value=cast(control.maximum),
        step=cast(control.step),
        **common,
    )
    return value


def _ensure_router() -> None:
    """A page's URL opened on a fresh server runs that file alone (Streamlit's legacy pages/ mode)
    until some session has run app.py's st.navigation; leave that mode and rerun through app.py.

    Only on a session's first run, where no click can be pending that a rerun would drop (AppTest
    turns the legacy mode back on before every run; its later runs render the page alone)."""
    first_run = "_session_started" not in st.session_state
    st.session_state["_session_started"] = True
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        if first_run:
            st.rerun()


def architecture_controls(page_keys: Sequence[str] = ()) -> ModelConfig:
    """The sidebar's family, preset and knob widgets; returns the config they describe.

    The URL is the source of truth: a link (or a preset or family choice) rewrites the widgets;
    a moved widget rewrites the URL to the config's canonical query string. ``page_keys`` are URL
    parameters the page keeps for itself (e.g. pinned configs to compare); they are not config keys
    and survive config changes (read and write them with ``page_param`` / ``set_page_param``).
    """
    _ensure_router()
    state = st.session_state
    state["_page_keys"] = tuple(page_keys)
    config = _url_config() or state.get("_config") or parse_query(DEFAULT_QUERY)
    if state.get("_synced") != config.query:
        _sync_widgets(config)
        state["_synced"] = config.query

    sidebar = st.sidebar
    sidebar.selectbox(
        "Family", list(FAMILIES), key="family", format_func=lambda f: FAMILIES[f].title, on_change=_on_family
    )
    presets = [CUSTOM] + [p for p in PRESETS if query_to_dict(PRESETS[p])["family"] == config.family]
    sidebar.selectbox("Preset", presets, key=f"preset.{config.family}", on_change=_on_preset, args=(config.family,))

    values: dict[str, Any] = {}
    controls = controls_for(config)
    io = None
    for control in sorted(controls, key=lambda c: c.key in IO_KEYS):  # architecture first, then I/O
        if control.key in IO_KEYS and io is None:
            io = sidebar.expander("Input and output", expanded=False)
        container = io if control.key in IO_KEYS else sidebar
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
    if new.query != config.query or query_to_dict(new.query) != _config_params():
        state["_synced"] = new.query
        _set_url(new)
    state["_config"] = new
    return new


# -- images ------------------------------------------------------------------------------------
def image_picker(
    prefix: str, sources: Sequence[str], shape_resolution: int, default_shape: str | None = None, default_seed: int = 7
) -> Image.Image | None:
    """The image to analyse from one of ``sources`` (Sample, Upload, Camera, Generated shape); None,
    with the reason shown, while there is none. Uploads go through the one hardened decoder."""
    source = st.radio("Image from", list(sources), horizontal=True, key=f"{prefix}.image_source")
    try:
        if source == "Generated shape":
            left, right = st.columns(2)
            shapes = ["any", *CLASSES]
            shape = left.selectbox("Shape", shapes, index=shapes.index(default_shape or "any"), key=f"{prefix}.shape")
            seed = right.number_input("Shape seed", 0, 10_000, default_seed, key=f"{prefix}.shape_seed")
            return shape_image(int(seed), shape_resolution, None if shape == "any" else shape)
        if source == "Sample":
            name = st.selectbox("Sample", list(SAMPLES), key=f"{prefix}.sample")
            st.caption(f"{name}: {CREDITS[name]}")
            return load_sample(name)
        upload = (
            st.camera_input("Take a picture", key=f"{prefix}.camera")
            if source == "Camera"
            else st.file_uploader("Image (PNG, JPEG, WebP, GIF, ...)", key=f"{prefix}.upload")
        )
        return decode_image(upload.getvalue()) if upload is not None else None
    except ImageError as error:
        st.error(f"This image cannot be used: {error}.")
        return None


def uploaded_checkpoint(prefix: str, config: ModelConfig) -> ExplainableModel | None:
    """A state dict uploaded on this page, loaded into ``config``'s model once per file and config
    (kept in the session: another user's upload is never seen)."""
    upload = st.file_uploader("State dict (.pt, .pth)", type=["pt", "pth"], key=f"{prefix}.checkpoint")
    if upload is None:
        return None
    data = upload.getvalue()
    key = (config.query, hashlib.sha256(data).hexdigest())
    cached = st.session_state.get(f"{prefix}.checkpoint_model")
    if cached is None or cached[0] != key:
        cached = (key, with_checkpoint(config, data, upload.name, current_device()))
        st.session_state[f"{prefix}.checkpoint_model"] = cached
    return cached[1]
