"""Lessons' measured outcomes, shared by every session of the server, and their recorded runs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from explorer.analysis.lessons import Lesson, Outcome, claim_holds, run_lesson
from explorer.analysis.runs import RecordedRun
from explorer.formatting import human_duration as minutes
from explorer.views.lessons import (
    measured_line,
    panel_figure,
    recorded_claim,
    recorded_heading,
    rerun_difference,
)
from pages._lessons.state import W

Progress = Callable[[float, str], object]  # what it returns is ignored


@st.cache_resource(show_spinner=False)
def _measured() -> dict[tuple[str, str, str], object]:
    """Measured outcomes shared by every session, keyed by (what, the lesson's repr, the device).
    Not ``st.cache_data``: a run reports its progress to the page, and a cached function may not
    draw on a block made outside it (its drawing would be replayed on a hit)."""
    return {}


def measured(what: str, lesson: Lesson, device: str, compute: Callable[[], Any]) -> Any:
    """``compute()`` once per (what, lesson, device) for the whole server; the newest 64 are kept."""
    store = _measured()
    key = (what, repr(lesson), device)
    if key not in store:
        store[key] = compute()
        while len(store) > 64:
            store.pop(next(iter(store)))
    return store[key]


def cached_outcome(lesson: Lesson, device: str, progress: Progress | None = None) -> Outcome:
    """Keyed by the whole lesson (its text, configs and parameters) and the device."""
    return measured("outcome", lesson, device, lambda: run_lesson(lesson, device, progress))


@st.cache_data(max_entries=16, show_spinner=False)
def cached_estimate(lesson: Lesson, device: str) -> float:
    from explorer.analysis.lessons.experiments import step_seconds

    return step_seconds(lesson, device)


def cached_losses(lesson: Lesson, device: str, progress: Progress | None = None) -> dict[str, list[list[float]]]:
    from explorer.analysis.lessons.experiments import training_losses

    return measured("losses", lesson, device, lambda: training_losses(lesson, device, progress))


def recorded(lesson: Lesson, run: RecordedRun, device: str) -> None:
    """A recorded run of the lesson: its card, its curves and the claim judged on its numbers, at
    once; re-run live on request (the time it would take here shown first)."""
    from explorer.analysis.lessons.experiments import training_outcome

    card = run.card
    variant = lesson.with_params(**run.data["params"])
    outcome = training_outcome(variant, run.data["losses"])
    holds = claim_holds(variant, outcome)
    st.markdown(recorded_heading(run.title, card, variant.params["steps"], variant.params["seeds"]))
    (st.success if holds else st.warning)(recorded_claim(lesson, holds, outcome.values))
    columns = st.columns(2)
    for i, panel in enumerate(outcome.panels):
        columns[i % 2].plotly_chart(panel_figure(panel), key=W.recorded.at(run.name, i))
    with st.expander("How it was made"):
        st.code(card["command"], language="bash")
        st.caption(
            f"Created {card.get('created', '?')} · load average then {card.get('load', '?')} · "
            f"data checksum `{card['checksum']}`"
        )
    key = W.rerun.at(run.name)
    if not st.session_state.get(key):
        st.button("Re-run it live…", key=f"{key}.ask", on_click=lambda: st.session_state.update({key: True}))
        return
    with st.spinner("Timing a few steps here…"):
        estimate = cached_estimate(variant, device)
    st.info(f"Re-running takes about **{minutes(estimate)}** on {device} (timed here, now).")
    if st.button(f"Start ({minutes(estimate)})", key=f"{key}.start", type="primary"):
        rerun(lesson, variant, run, device)


def rerun(lesson: Lesson, variant: Lesson, run: RecordedRun, device: str) -> None:
    """Re-run a recorded run here and compare every step's loss with the record."""
    from explorer.analysis.lessons.experiments import training_outcome

    bar = st.progress(0.0, text="Starting…")
    losses = cached_losses(variant, device, lambda done, text: bar.progress(done, text=text))
    bar.empty()
    worst = max(
        abs(a - b)
        for label, runs in losses.items()
        for live, stored in zip(runs, run.data["losses"][label], strict=True)
        for a, b in zip(live, stored, strict=True)
    )
    said = rerun_difference(worst)
    if worst == 0:
        st.success(said)
        return
    st.warning(said)
    live = training_outcome(variant, losses)
    st.markdown(f"**Measured here.** {measured_line(lesson, live.values)}.")
