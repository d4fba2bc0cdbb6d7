"""The Scaling lab's widget keys and its URL-backed controls (sliders, pins)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import streamlit as st

from explorer.analysis.scaling import MAX_PINS, format_pins, parse_pins
from explorer.compound import COEFFICIENT_RANGE, PAPER_ALPHA, PAPER_BETA, PAPER_GAMMA, PHI_RANGE
from explorer.config import parse_query
from pages._shared.architecture import page_param, set_page_param
from pages._shared.state import Widget, Widgets


class W(Widgets, prefix="scaling"):
    """Every widget of the page (tests, browser tests and links know these keys; the what-if
    sliders' keys follow their URL keys: :func:`slider_key`)."""

    tab = Widget[str]()
    pinned = Widget[list[str]]()
    pin = Widget[None]()
    compare_what = Widget[str]()
    compare_table = Widget[None]()
    weights = Widget[str]()
    limit = Widget[float]()
    presets = Widget[list[str]]()
    batch = Widget[int]()
    repeats = Widget[int]()
    warmup = Widget[int]()
    measure = Widget[bool]()
    # the Search tab
    search_alpha = Widget[str]()
    search_beta = Widget[str]()
    search_gamma = Widget[str]()
    search_tol = Widget[float]()
    search_steps = Widget[int]()
    search_seeds = Widget[int]()
    search_workers = Widget[int]()
    search_base = Widget[str]()
    search_start = Widget[bool]()
    search_cancel = Widget[bool]()
    search_resume = Widget[bool]()
    search_rerun = Widget[bool]()
    search_new = Widget[bool]()
    search_apply = Widget[bool]()

    # element keys (charts and tables keep their state, a zoom or a selection, across reruns)
    accuracy = Widget[None]()
    blocks = Widget[None]()
    channels = Widget[None]()
    compare_plane = Widget[None]()
    compare_stages = Widget[None]()
    factors = Widget[None]()
    grid_macs = Widget[None]()
    grid_params = Widget[None]()
    latency = Widget[None]()
    macs_phi = Widget[None]()
    params_phi = Widget[None]()
    plane = Widget[None]()
    published_table = Widget[None]()
    rounding_table = Widget[None]()
    search_plot = Widget[None]()
    search_space = Widget[None]()
    search_table = Widget[None]()
    sweep_table = Widget[None]()
    timing_table = Widget[None]()


def slider_key(url_key: str) -> str:
    """The key of the slider kept in the URL as ``url_key`` (``scale_phi`` -> ``scaling.scale_phi``)."""
    return f"{W.prefix}.{url_key}"


#: The what-if sliders: URL key, default and range (the rule's constants: explorer.compound).
RULE_KEYS: dict[str, tuple[str, float, float, float]] = {
    "phi": ("scale_phi", 1.0, *PHI_RANGE),
    "alpha": ("scale_alpha", PAPER_ALPHA, *COEFFICIENT_RANGE),
    "beta": ("scale_beta", PAPER_BETA, *COEFFICIENT_RANGE),
    "gamma": ("scale_gamma", PAPER_GAMMA, *COEFFICIENT_RANGE),
}
#: The page's own URL parameters (everything else in the URL is the config).
PAGE_KEYS = ("pins", "max_phi", "search", *(url for url, *_ in RULE_KEYS.values()))


def _url_float(url_key: str, default: float, lo: float, hi: float) -> float:
    try:
        value = float(page_param(url_key, str(default)) or default)
    except ValueError:
        return default
    return min(hi, max(lo, value))


def _store(url_key: str, default: float) -> None:
    value = st.session_state[slider_key(url_key)]
    set_page_param(url_key, None if value == default else f"{value:g}")


def url_slider(
    container: Any, label: str, url_key: str, default: float, lo: float, hi: float, step: float, help: str
) -> float:
    """A slider whose value lives in the URL as ``url_key`` (left out at its default)."""
    key = slider_key(url_key)
    if key not in st.session_state:
        st.session_state[key] = _url_float(url_key, default, lo, hi)
    return container.slider(label, lo, hi, step=step, key=key, help=help, on_change=_store, args=(url_key, default))


def set_rule(values: dict[str, float]) -> None:
    """Put ``values`` (by name: phi, alpha, beta, gamma) on the what-if sliders and in the URL."""
    for name, value in values.items():
        url, default, *_ = RULE_KEYS[name]
        st.session_state[slider_key(url)] = value
        set_page_param(url, None if value == default else f"{value:g}")


def pin(query: str) -> None:
    pins = [c.query for c in parse_pins(page_param("pins"))]
    if query not in pins and len(pins) < MAX_PINS:
        set_page_param("pins", format_pins([parse_query(q) for q in [*pins, query]]))


def unpin() -> None:
    kept: Sequence[str] = W.pinned.value
    set_page_param("pins", format_pins([parse_query(q) for q in kept]) or None)
