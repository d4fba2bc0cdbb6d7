"""Signal flow: activation std and gradient norm against depth, live; overlay variants; train and watch."""

from __future__ import annotations

import dataclasses
import time

import streamlit as st

from explorer.analysis.signal import VARIANTS, SignalResult, comparison_curves, probe_sides, signal
from explorer.analysis.training import OPTIMIZERS, TEACHING, TrainingRun, teaching_model, train
from explorer.config import parse_query
from explorer.knobs import ConfigError, ModelConfig, query_to_dict
from explorer.runtime.device import best_device
from explorer.runtime.guard import TooLargeError, check_fits
from explorer.runtime.models import build_seeded
from explorer.views.signal import METRIC_LABELS, loss_figure, ratio_text, signal_figure
from pages._shared.architecture import architecture_controls
from pages._shared.caches import cached_profile
from pages._shared.device import bf16_toggle, current_device
from pages._shared.queue import slow_work
from pages._shared.shipped import warm_start
from pages._shared.state import SIGNAL_PINS, TRAINING_RUN

EXPERIMENT = "family=plain&depth=30&bn=off&init=default"
LEARNING_RATES = (1e-4, 3e-4, 1e-3, 2e-3, 3e-3, 0.01, 0.03, 0.1, 0.3)
#: Said beside "Train" when the run starts from fresh weights.
FROM_SCRATCH_NOTE = (
    "Fresh weights, the teaching recipe: upright shapes at {side} px, {images:,} pictures drawn once, Adam, "
    "batch {batch}; the accuracy on {held_out} held-out pictures is measured at the end."
)


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
    return signal(
        config,
        cached_model(query, seed, device),
        batch=batch,
        seed=seed,
        resolution=resolution,
        training=training,
        weight_grads=weight_grads,
    )


# -- callbacks ------------------------------------------------------------------------------------------
def _experiment() -> None:
    st.query_params.from_dict(query_to_dict(EXPERIMENT))
    st.session_state["signal.variants"] = ["skip"]
    st.session_state["signal.metrics"] = ["activation_std", "grad_norm"]


def _pin(query: str) -> None:
    SIGNAL_PINS.get_or_create().add(query)


def _pin_typed() -> None:
    text = st.session_state.get("signal.add", "").strip()
    if not text:
        return
    try:
        _pin(parse_query(text).query)
        st.session_state["signal.add_error"] = None
    except ConfigError as error:
        st.session_state["signal.add_error"] = f"Not added: {error}"
    st.session_state["signal.add"] = ""


def _request_training() -> None:
    # A flag set by the click's callback survives a rerun before the script sees the click.
    st.session_state["train.requested"] = True


def _unpin(query: str) -> None:
    SIGNAL_PINS.get_or_create().remove(query)


# -- the page -------------------------------------------------------------------------------------------
config = architecture_controls()
st.session_state.setdefault("signal.metrics", ["activation_std", "grad_norm"])
st.session_state.setdefault("signal.variants", [])
device = current_device()

st.title("Signal flow")
st.caption(
    "For every conv/linear layer, in depth order: the standard deviation of its output over a small batch of "
    "generated shapes images, and the norm of the gradient of the loss with respect to that output. Without "
    "skip connections both shrink (or explode) layer by layer; with them, the +I term is a gradient highway."
)

top = st.columns([3, 2])
top[0].markdown(f"**Current:** `{config.query}`")
top[1].button(
    "Plain vs residual: depth 30, no BN, skip off and on",
    on_click=_experiment,
    icon=":material/science:",
    key="signal.experiment",
    help=f"Loads {EXPERIMENT} and overlays the same network with skip connections",
)

with st.expander("Probe and comparison", expanded=True):
    left, middle, right = st.columns(3)
    natural = config.input_resolution
    sides, default_side = probe_sides(config)
    if st.session_state.get("signal.resolution") not in sides:
        st.session_state["signal.resolution"] = default_side
    resolution = left.select_slider(
        "Probe input side (px)",
        sides,
        key="signal.resolution",
        help=f"The config's own is {natural} px; a smaller probe draws the same picture faster",
    )
    batch = left.select_slider("Probe batch", [2, 4, 8, 16], value=4, key="signal.batch")
    seed = middle.number_input("Seed (weights and images)", 0, 9999, 0, key="signal.seed")
    mode = middle.radio(
        "Batch norm uses",
        ["batch statistics (training mode)", "running statistics (eval mode)"],
        key="signal.mode",
        help="A freshly built network in eval mode normalises with its initial running statistics (mean 0, var 1)",
    )
    metrics = right.pills(
        "Show",
        list(METRIC_LABELS),
        selection_mode="multi",
        format_func=METRIC_LABELS.get,
        key="signal.metrics",
    )
    variants = st.pills(
        "Overlay the current config with",
        list(VARIANTS),
        selection_mode="multi",
        format_func=VARIANTS.get,
        key="signal.variants",
        help="Each selected change of the current config adds a curve (changes the family lacks are skipped)",
    )
    add, pin = st.columns([3, 1], vertical_alignment="bottom")
    add.text_input(
        "Add a curve by query", key="signal.add", on_change=_pin_typed, placeholder="family=plain&depth=56&skip=on"
    )
    pin.button("Pin current curve", on_click=_pin, args=(config.query,), icon=":material/push_pin:")
    if st.session_state.get("signal.add_error"):
        st.error(st.session_state["signal.add_error"])
    pins = SIGNAL_PINS.get_or_create().queries
    for query in pins:
        row = st.columns([6, 1], vertical_alignment="center")
        row[0].markdown(f":material/push_pin: `{query}`")
        row[1].button("Remove", key=f"signal.unpin.{query}", on_click=_unpin, args=(query,), type="tertiary")

training_mode = mode.startswith("batch")
weight_grads = "weight_grad_norm" in (metrics or [])
curves, skipped = comparison_curves(config, variants or [], pins)
if skipped:
    st.caption("Not applicable to this config: " + ", ".join(skipped))

results: list[tuple[str, SignalResult]] = []
started = time.perf_counter()
with st.spinner("Measuring the signal flow…"):
    for label, curve_config in curves:
        side = min(resolution, curve_config.input_resolution)
        try:
            result = cached_signal(curve_config.query, int(seed), int(batch), side, training_mode, weight_grads, device)
        except (TooLargeError, ValueError) as error:
            st.error(f"{label}: {error}")
            continue
        results.append((label, result))
elapsed = time.perf_counter() - started

for label, result in results:
    for problem in result.problems:
        st.warning(f"**{label}**: {problem.message}", icon=":material/warning:")

if results and metrics:
    columns = st.columns(min(2, len(metrics)))
    for index, metric in enumerate(metrics):
        columns[index % len(columns)].plotly_chart(signal_figure(results, metric), key=f"signal.chart.{metric}")
    first = results[0][1]
    st.caption(
        f"{len(first.points)} conv/linear layers · batch {first.batch} at {first.resolution} px · loss "
        f"{first.loss:.3g} · {elapsed * 1e3:,.0f} ms. Gradient norm at layer 1: "
        + "; ".join(ratio_text(results, "grad_norm", 1))
    )
elif not metrics:
    st.info("Pick at least one measure to show.")


# -- training -------------------------------------------------------------------------------------------
@st.fragment
def training_panel(config: ModelConfig, device: str, resolution: int, seed: int) -> None:
    recipe = TEACHING
    cols = st.columns(5)
    optimizer = cols[0].segmented_control("Optimizer", OPTIMIZERS, default=recipe.optimizer, key="train.optimizer")
    lr = cols[1].select_slider("Learning rate", LEARNING_RATES, value=recipe.lr, key="train.lr")
    steps = cols[2].select_slider("Steps", [10, 20, 50, 100, 200, 300, 500], value=recipe.steps, key="train.steps")
    batch = cols[3].select_slider("Batch", [4, 8, 16, 32, 64], value=recipe.batch, key="train.batch")
    every = cols[4].select_slider("Curves every", [1, 2, 5, 10, 25], value=recipe.record_every, key="train.every")
    warm = warm_start(config, device, resolution=min(resolution, config.input_resolution))
    if warm is not None:
        from_shipped = st.toggle(
            f"Start from the {warm.weights}",
            value=True,
            key="train.warm",
            help="Its architecture is this config's (8 shape classes): the run refines learned weights. "
            "Off: fresh weights from the seed, the curves of a net learning from scratch.",
        )
        warm = warm if from_shipped else None
    rotate = st.toggle(
        "Rotated shapes (harder: needs far more steps)",
        value=recipe.rotate,
        key="train.rotate",
        help="Off: upright shapes, which a small net learns within a minute on a CPU",
    )
    if warm is None:
        side = max(recipe.resolution or 16, config.min_resolution)
        trained_config, swap_note = teaching_model(
            config, side, cached_profile(dataclasses.replace(config, resolution=side, classes=8).query).macs
        )
        if swap_note:  # the small net trains at the recipe's side, not at the big model's smallest
            side = max(recipe.resolution or 16, trained_config.min_resolution)
        trained_config = dataclasses.replace(trained_config, resolution=max(side, trained_config.min_resolution))
        side = trained_config.input_resolution
        if swap_note:
            st.info(swap_note, icon=":material/swap_horiz:")
        st.caption(FROM_SCRATCH_NOTE.format(side=side, images=recipe.images, batch=batch, held_out=recipe.held_out))
    else:
        trained_config, side = warm.built.config, warm.built.config.input_resolution
    button, toggle = st.columns([1, 4], vertical_alignment="center")
    button.button("Train", type="primary", icon=":material/play_arrow:", key="train.start", on_click=_request_training)
    with toggle:
        bf16 = bf16_toggle("train")
    if st.session_state.get("train.requested") and not st.session_state.get("train.stop_drawn"):
        st.rerun(scope="app")  # the whole page, so that its Stop button shows while the run goes
    start = st.session_state.pop("train.requested", False)
    if start:
        settings = dataclasses.replace(
            recipe,
            optimizer=optimizer or "adam",
            lr=lr,
            steps=steps,
            batch=batch,
            seed=seed,
            record_every=every,
            resolution=side,
            autocast=bf16,
            rotate=rotate,
            images=max(recipe.images, batch),
        )
        try:
            check_fits(cached_profile(trained_config.query), best_device(device), batch=batch, training=True)
        except TooLargeError as error:
            st.error(str(error))
            return
        run = TrainingRun(trained_config.query, settings, device)
        TRAINING_RUN.set(run)
        progress = st.progress(0.0, text="Starting…")
        live_loss, live_curves = st.empty(), st.empty()
        with slow_work("Training"):  # one of the server's slow-work slots, the place in line shown
            model = cached_model(trained_config.query, seed, device) if warm is None else warm.built
            for record in train(trained_config, settings, model):  # trains a private copy
                run.records.append(record)
                progress.progress(record.fraction, text=f"Step {record.step}/{steps} · loss {record.loss:.4g}")
                if record.signal is not None or record.step == steps:
                    records = run.records
                    curve = ([r.step for r in records], [r.loss for r in records], [r.accuracy for r in records])
                    live_loss.plotly_chart(loss_figure(*curve), key=f"train.live_loss.{record.step}")
                    snapshots = run.snapshots
                    shown = [(f"step {snapshots[0].step}", snapshots[0].signal)]
                    if len(snapshots) > 1:
                        shown.append((f"step {snapshots[-1].step}", snapshots[-1].signal))
                    live_curves.plotly_chart(signal_figure(shown, "grad_norm"), key=f"train.live_curves.{record.step}")
            run.finished = True
        st.session_state["train.stop_drawn"] = False
        st.rerun(scope="app")  # the whole page again, without the Stop button: the run is kept to show

    run = TRAINING_RUN.get()
    if run is None or run.last is None:
        return
    records = run.records
    last = run.last
    if last.diverged:
        st.error(f"The loss became {last.loss} at step {last.step}: training diverged (try a smaller learning rate).")
    elif not run.finished:
        st.info(f"Stopped at step {last.step} of {run.settings.steps}.")
    else:
        held_out = (
            f"; {last.held_out_accuracy:.0%} right on {run.settings.held_out} held-out pictures (chance 12 %)"
            if last.held_out_accuracy is not None
            else ""
        )
        st.success(
            f"Trained {last.step} steps in {last.elapsed_s:.1f} s on {run.device}"
            f"{' (bf16 autocast)' if run.settings.autocast else ''}: loss {records[0].loss:.3g} → {last.loss:.3g}"
            f"{held_out}."
        )
    if run.query != config.query:
        st.caption(f"This run trained `{run.query}`.")
    snapshots = run.snapshots
    st.plotly_chart(
        loss_figure([r.step for r in records], [r.loss for r in records], [r.accuracy for r in records]),
        key="train.loss",
    )
    if not snapshots:
        return
    steps_recorded = [r.step for r in snapshots]
    chosen = (
        st.select_slider(
            "Scrub through the recorded steps", steps_recorded, value=steps_recorded[-1], key="train.scrub"
        )
        if len(steps_recorded) > 1
        else steps_recorded[0]
    )
    at = next(r for r in snapshots if r.step == chosen)
    shown = [(f"step {snapshots[0].step}", snapshots[0].signal)]
    if at.step != snapshots[0].step:
        shown.append((f"step {at.step}", at.signal))
    for problem in at.signal.problems:
        st.warning(f"step {at.step}: {problem.message}")
    columns = st.columns(2)
    for index, metric in enumerate(("activation_std", "grad_norm", "weight_grad_norm")):
        if metric == "weight_grad_norm":
            st.plotly_chart(signal_figure(shown, metric, height=340), key="train.scrub.weight")
        else:
            columns[index].plotly_chart(signal_figure(shown, metric), key=f"train.scrub.{metric}")


heading, stop = st.columns([5, 1], vertical_alignment="bottom")
heading.subheader("Train and watch")
# Shown only while a run goes (a Train click reruns the whole page to draw it). Outside the fragment on
# purpose: a click inside a running fragment waits for it to finish, while a click out here reruns the
# page, which interrupts the run (the steps so far are kept).
training_now = st.session_state.get("train.requested", False)
if training_now:
    stop.button("Stop training", icon=":material/stop:", key="train.stop", help="Stops the run; what ran is kept")
st.session_state["train.stop_drawn"] = training_now
st.caption(
    "A short run on the generated shapes data set (a private copy of the model: the curves above do not "
    "change). The curves are measured on the training batch every few steps; stop at any time, then scrub."
)
training_panel(config, device, int(resolution), int(seed))
