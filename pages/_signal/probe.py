"""The probe: its controls (side, batch, seed, batch-norm statistics, metrics, overlays and pins) and
the signal-flow curves it measures."""

from __future__ import annotations

import time
from dataclasses import dataclass

import streamlit as st

from explorer.analysis.signal import VARIANTS, SignalResult, Statistics, comparison_curves, probe_sides, signal
from explorer.config import parse_query
from explorer.knobs import ConfigError, ModelConfig, query_to_dict
from explorer.runtime.device import best_device
from explorer.runtime.guard import TooLargeError, check_fits
from explorer.runtime.models import build_seeded
from explorer.views.signal import METRIC_LABELS, VARIANT_LABELS, ratio_text, signal_figure, statistics_label
from pages._shared.caches import cached_profile
from pages._shared.state import SIGNAL_PINS
from pages._signal.state import S

EXPERIMENT = "family=plain&depth=30&bn=off&init=default"
DEFAULT_METRICS = ["activation_std", "grad_norm"]


@dataclass(frozen=True)
class Probe:
    """What the probe's controls chose."""

    resolution: int
    batch: int
    seed: int
    statistics: Statistics
    metrics: list[str]
    variants: list[str]


# -- cached models and analyses (models keyed by the canonical query string) ----------------------------
@st.cache_resource(max_entries=6, show_spinner=False)
def cached_model(query: str, seed: int, device: str):
    return build_seeded(parse_query(query), seed, device)


@st.cache_data(max_entries=128, show_spinner=False)
def cached_signal(
    query: str, seed: int, batch: int, resolution: int, training: bool, weight_grads: bool, device: str
) -> SignalResult:
    config = parse_query(query)
    check_fits(cached_profile(query), best_device(device), batch=batch, training=True)
    model = cached_model(query, seed, device)
    return signal(
        config, model, batch=batch, seed=seed, resolution=resolution, training=training, weight_grads=weight_grads
    )


# -- callbacks ------------------------------------------------------------------------------------------
def load_experiment() -> None:
    st.query_params.from_dict(query_to_dict(EXPERIMENT))
    S.variants.set(["skip"])
    S.metrics.set(list(DEFAULT_METRICS))


def pin(query: str) -> None:
    SIGNAL_PINS.get_or_create().add(query)


def unpin(query: str) -> None:
    SIGNAL_PINS.get_or_create().remove(query)


def pin_typed() -> None:
    text = (S.add.get() or "").strip()
    if not text:
        return
    try:
        pin(parse_query(text).query)
        S.add_error.set(None)
    except ConfigError as error:
        S.add_error.set(f"Not added: {error}")
    S.add.set("")


# -- controls ---------------------------------------------------------------------------------------------
def experiment_button(config: ModelConfig) -> None:
    top = st.columns([3, 2])
    top[0].markdown(f"**Current:** `{config.query}`")
    top[1].button(
        "Plain vs residual: depth 30, no BN, skip off and on",
        on_click=load_experiment,
        icon=":material/science:",
        key=S.experiment.key,
        help=f"Loads {EXPERIMENT} and overlays the same network with skip connections",
    )


def probe_controls(config: ModelConfig) -> Probe:
    S.metrics.setdefault(list(DEFAULT_METRICS))
    S.variants.setdefault([])
    left, middle, right = st.columns(3)
    sides, default_side = probe_sides(config)
    if S.resolution.get() not in sides:
        S.resolution.set(default_side)
    resolution = left.select_slider(
        "Probe input side (px)",
        sides,
        key=S.resolution.key,
        help=f"The config's own is {config.input_resolution} px; a smaller probe draws the same picture faster",
    )
    batch = left.select_slider("Probe batch", [2, 4, 8, 16], value=4, key=S.batch.key)
    seed = middle.number_input("Seed (weights and images)", 0, 9999, 0, key=S.seed.key)
    statistics = middle.radio(
        "Batch norm uses",
        list(Statistics),
        format_func=statistics_label,
        key=S.mode.key,
        help="A freshly built network in eval mode normalises with its initial running statistics (mean 0, var 1)",
    )
    metrics = right.pills(
        "Show", list(METRIC_LABELS), selection_mode="multi", format_func=METRIC_LABELS.__getitem__, key=S.metrics.key
    )
    variants = st.pills(
        "Overlay the current config with",
        list(VARIANTS),
        selection_mode="multi",
        format_func=VARIANT_LABELS.__getitem__,
        key=S.variants.key,
        help="Each selected change of the current config adds a curve (changes the family lacks are skipped)",
    )
    assert statistics is not None  # a radio with a default always has a choice
    return Probe(int(resolution), int(batch), int(seed), statistics, list(metrics or []), list(variants or []))


def pin_controls(config: ModelConfig) -> list[str]:
    """Curves added by query or pinned, with a Remove button each; the pinned queries."""
    add, pin_column = st.columns([3, 1], vertical_alignment="bottom")
    add.text_input(
        "Add a curve by query", key=S.add.key, on_change=pin_typed, placeholder="family=plain&depth=56&skip=on"
    )
    pin_column.button("Pin current curve", on_click=pin, args=(config.query,), icon=":material/push_pin:")
    if S.add_error.get():
        st.error(S.add_error.value)
    pins = SIGNAL_PINS.get_or_create().queries
    for query in pins:
        row = st.columns([6, 1], vertical_alignment="center")
        row[0].markdown(f":material/push_pin: `{query}`")
        row[1].button("Remove", key=S.unpin.at(query), on_click=unpin, args=(query,), type="tertiary")
    return list(pins)


# -- the curves -------------------------------------------------------------------------------------------
def measure_curves(
    config: ModelConfig, probe: Probe, pins: list[str], device: str
) -> tuple[list[tuple[str, SignalResult]], float]:
    """Every curve's signal flow (errors shown, their curves left out) and the seconds it took."""
    curves, skipped = comparison_curves(config, probe.variants, pins)
    if skipped:
        st.caption("Not applicable to this config: " + ", ".join(VARIANT_LABELS[name] for name in skipped))
    weight_grads = "weight_grad_norm" in probe.metrics
    results: list[tuple[str, SignalResult]] = []
    started = time.perf_counter()
    with st.spinner("Measuring the signal flow…"):
        for label, curve in curves:
            side = min(probe.resolution, curve.input_resolution)
            training = probe.statistics.training
            try:
                result = cached_signal(curve.query, probe.seed, probe.batch, side, training, weight_grads, device)
            except (TooLargeError, ValueError) as error:
                st.error(f"{label}: {error}")
                continue
            results.append((label, result))
    return results, time.perf_counter() - started


def show_curves(results: list[tuple[str, SignalResult]], metrics: list[str], elapsed: float) -> None:
    for label, result in results:
        for problem in result.problems:
            st.warning(f"**{label}**: {problem.message}", icon=":material/warning:")
    if not metrics:
        st.info("Pick at least one measure to show.")
        return
    if not results:
        return
    columns = st.columns(min(2, len(metrics)))
    for index, metric in enumerate(metrics):
        columns[index % len(columns)].plotly_chart(signal_figure(results, metric), key=S.chart.at(metric))
    first = results[0][1]
    st.caption(
        f"{len(first.points)} conv/linear layers · batch {first.batch} at {first.resolution} px · loss "
        f"{first.loss:.3g} · {elapsed * 1e3:,.0f} ms. Gradient norm at layer 1: "
        + "; ".join(ratio_text(results, "grad_norm", 1))
    )
