"""Train and watch: a short run on shapes (a private copy of the model), its loss and signal-flow
curves drawn live, then scrubbed through step by step."""

from __future__ import annotations

import dataclasses
from typing import Any

import streamlit as st

from explorer.analysis.recipe import OPTIMIZERS, TEACHING, TrainSettings, teaching_model
from explorer.analysis.training import Copied, RunState, StepRecord, TrainingRun, TrainSpec, train
from explorer.knobs import ModelConfig
from explorer.runtime.device import best_device
from explorer.runtime.guard import TooLargeError, check_fits
from explorer.runtime.weights import ExplainableModel
from explorer.views.signal import loss_figure, signal_figure
from explorer.views.training import from_scratch_note, run_summary, swap_note
from pages._shared.caches import cached_profile
from pages._shared.device import bf16_toggle
from pages._shared.queue import slow_work
from pages._shared.shipped import warm_start
from pages._shared.state import TRAINING_RUN
from pages._signal.probe import cached_model
from pages._signal.state import T

LEARNING_RATES = (1e-4, 3e-4, 1e-3, 2e-3, 3e-3, 0.01, 0.03, 0.1, 0.3)
SAID = {RunState.DIVERGED: st.error, RunState.STOPPED: st.info, RunState.FINISHED: st.success}


def request_training() -> None:
    T.requested.set(True)


def recipe_controls(seed: int) -> TrainSettings:
    """The recipe's sliders: the teaching recipe with the user's optimiser, rate, steps, batch and data."""
    recipe = TEACHING
    cols = st.columns(5)
    optimizer = cols[0].segmented_control("Optimizer", OPTIMIZERS, default=recipe.optimizer, key=T.optimizer.key)
    lr = cols[1].select_slider("Learning rate", LEARNING_RATES, value=recipe.lr, key=T.lr.key)
    steps = cols[2].select_slider("Steps", [10, 20, 50, 100, 200, 300, 500], value=recipe.steps, key=T.steps.key)
    batch = cols[3].select_slider("Batch", [4, 8, 16, 32, 64], value=recipe.batch, key=T.batch.key)
    every = cols[4].select_slider("Curves every", [1, 2, 5, 10, 25], value=recipe.record_every, key=T.every.key)
    return dataclasses.replace(
        recipe,
        optimizer=optimizer or "adam",
        lr=lr,
        steps=steps,
        batch=batch,
        seed=seed,
        record_every=every,
        images=max(recipe.images, batch),
    )


def warm_choice(config: ModelConfig, device: str, resolution: int) -> ExplainableModel | None:
    """The shipped model of this architecture to start from, if there is one and the toggle says so."""
    warm = warm_start(config, device, resolution=min(resolution, config.input_resolution))
    if warm is None:
        return None
    from_shipped = st.toggle(
        f"Start from the {warm.weights}",
        value=True,
        key=T.warm.key,
        help="Its architecture is this config's (8 shape classes): the run refines learned weights. "
        "Off: fresh weights from the seed, the curves of a net learning from scratch.",
    )
    return warm if from_shipped else None


def fresh_model(config: ModelConfig, batch: int) -> ModelConfig:
    """What trains from fresh weights: the config or, for a big one, its family's small net (said why)."""
    choice = teaching_model(config, lambda c: cached_profile(c.query).macs)
    if choice.swapped:
        st.info(swap_note(choice), icon=":material/swap_horiz:")
    st.caption(from_scratch_note(choice.config.input_resolution, TEACHING.images, batch, TEACHING.held_out))
    return choice.config


def run_live(trained: ModelConfig, warm: ExplainableModel | None, settings: TrainSettings, device: str) -> None:
    """Train, drawing the loss and the first and latest gradient curves as the records come."""
    try:
        check_fits(cached_profile(trained.query), best_device(device), batch=settings.batch, training=True)
    except TooLargeError as error:
        st.error(str(error))
        return
    run = TrainingRun(trained.query, settings, device)
    TRAINING_RUN.set(run)
    progress = st.progress(0.0, text="Starting…")
    live_loss, live_curves = st.empty(), st.empty()
    with slow_work("Training"):  # one of the server's slow-work slots, the place in line shown
        model = cached_model(trained.query, settings.seed, device) if warm is None else warm.built
        spec = TrainSpec(model=Copied(model, trained), settings=settings, device=device)  # a private copy
        for record in train(spec):
            run.records.append(record)
            progress.progress(record.fraction, text=f"Step {record.step}/{settings.steps} · loss {record.loss:.4g}")
            if record.signal is not None or record.step == settings.steps:
                records = run.records
                curve = ([r.step for r in records], [r.loss for r in records], [r.accuracy for r in records])
                live_loss.plotly_chart(loss_figure(*curve), key=T.live_loss.at(record.step))
                live_curves.plotly_chart(
                    signal_figure(first_and(run, run.snapshots[-1]), "grad_norm"),
                    key=T.live_curves.at(record.step),
                )
        run.finished = True


def first_and(run: TrainingRun, at: StepRecord) -> list[tuple[str, Any]]:
    """The first recorded step's signal flow, and ``at``'s when it is another step."""
    first = run.snapshots[0]
    shown = [(f"step {first.step}", first.signal)]
    if at.step != first.step:
        shown.append((f"step {at.step}", at.signal))
    return shown


def show_run(run: TrainingRun, config: ModelConfig) -> None:
    """A kept run: how it ended, its loss, and its curves at a step chosen with a scrubber."""
    SAID[run.state](run_summary(run))
    if run.query != config.query:
        st.caption(f"This run trained `{run.query}`.")
    records, snapshots = run.records, run.snapshots
    curve = ([r.step for r in records], [r.loss for r in records], [r.accuracy for r in records])
    st.plotly_chart(loss_figure(*curve), key=T.loss.key)
    if not snapshots:
        return
    steps = [r.step for r in snapshots]
    chosen = (
        st.select_slider("Scrub through the recorded steps", steps, value=steps[-1], key=T.scrub.key)
        if len(steps) > 1
        else steps[0]
    )
    at = next(r for r in snapshots if r.step == chosen)
    assert at.signal is not None  # a snapshot carries its signal flow
    for problem in at.signal.problems:
        st.warning(f"step {at.step}: {problem.message}")
    shown = first_and(run, at)
    columns = st.columns(2)
    columns[0].plotly_chart(signal_figure(shown, "activation_std"), key=T.scrub.at("activation_std"))
    columns[1].plotly_chart(signal_figure(shown, "grad_norm"), key=T.scrub.at("grad_norm"))
    st.plotly_chart(signal_figure(shown, "weight_grad_norm", height=340), key=T.scrub.at("weight"))


@st.fragment
def training_panel(config: ModelConfig, device: str, resolution: int, seed: int) -> None:
    settings = recipe_controls(seed)
    warm = warm_choice(config, device, resolution)
    rotate = st.toggle(
        "Rotated shapes (harder: needs far more steps)",
        value=TEACHING.rotate,
        key=T.rotate.key,
        help="Off: upright shapes, which a small net learns within a minute on a CPU",
    )
    trained = fresh_model(config, settings.batch) if warm is None else warm.built.config
    button, toggle = st.columns([1, 4], vertical_alignment="center")
    button.button("Train", type="primary", icon=":material/play_arrow:", key=T.start.key, on_click=request_training)
    with toggle:
        bf16 = bf16_toggle("train")
    if T.requested.get() and not T.stop_drawn.get():
        st.rerun(scope="app")  # the whole page, so that its Stop button shows while the run goes
    if T.requested.pop(False):
        side = trained.input_resolution
        run_live(trained, warm, dataclasses.replace(settings, resolution=side, autocast=bf16, rotate=rotate), device)
        T.stop_drawn.set(False)
        st.rerun(scope="app")  # the whole page again, without the Stop button: the run is kept to show
    run = TRAINING_RUN.get()
    if run is not None and run.last is not None:
        show_run(run, config)


def training_section(config: ModelConfig, device: str, resolution: int, seed: int) -> None:
    heading, stop = st.columns([5, 1], vertical_alignment="bottom")
    heading.subheader("Train and watch")
    # Shown only while a run goes (a Train click reruns the whole page to draw it). Outside the fragment on
    # purpose: a click inside a running fragment waits for it to finish, while a click out here reruns the
    # page, which interrupts the run (the steps so far are kept).
    training_now = bool(T.requested.get(False))
    if training_now:
        stop.button("Stop training", icon=":material/stop:", key=T.stop.key, help="Stops the run; what ran is kept")
    T.stop_drawn.set(training_now)
    st.caption(
        "A short run on the generated shapes data set (a private copy of the model: the curves above do not "
        "change). The curves are measured on the training batch every few steps; stop at any time, then scrub."
    )
    training_panel(config, device, resolution, seed)
