"""Lessons: a claim, a prediction, a live experiment, the reveal. Lessons are files in assets/lessons/."""

from __future__ import annotations

import streamlit as st

from explorer.analysis.lessons import Lesson, Outcome, answer, claim_holds, is_right, load_lessons, run_lesson
from explorer.analysis.runs import RecordedRun, recorded_runs
from explorer.config import parse_query
from explorer.knobs import ConfigError, format_query
from explorer.views.lessons import (
    format_value,
    lesson_link,
    links,
    measured_line,
    panel_figure,
    tally_text,
    verdict,
)
from pages._shared.device import current_device
from pages._shared.routing import ensure_router
from pages._shared.state import LESSON_RUNS, LESSON_TALLY, LessonRun
from pages._shared.tables import table

PRESENTER_CSS = """
<style>
section[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"] { display: none; }
.stMainBlockContainer p, .stMainBlockContainer li, .stMainBlockContainer label { font-size: 1.6rem !important; }
.stMainBlockContainer h1 { font-size: 3.2rem !important; }
</style>
"""


@st.cache_resource(show_spinner=False)
def _measured() -> dict[tuple[str, str, str], object]:
    """Measured outcomes shared by every session, keyed by (what, the lesson's repr, the device).
    Not ``st.cache_data``: a run reports its progress to the page, and a cached function may not
    draw on a block made outside it (its drawing would be replayed on a hit)."""
    return {}


def measured(what: str, lesson: Lesson, device: str, compute):
    """``compute()`` once per (what, lesson, device) for the whole server; the newest 64 are kept."""
    store = _measured()
    key = (what, repr(lesson), device)
    if key not in store:
        store[key] = compute()
        while len(store) > 64:
            store.pop(next(iter(store)))
    return store[key]


def cached_outcome(lesson: Lesson, device: str, progress=None) -> Outcome:
    """Keyed by the whole lesson (its text, configs and parameters) and the device."""
    return measured("outcome", lesson, device, lambda: run_lesson(lesson, device, progress))


@st.cache_data(max_entries=16, show_spinner=False)
def cached_estimate(lesson: Lesson, device: str) -> float:
    from explorer.analysis.lessons.experiments import step_seconds

    return step_seconds(lesson, device)


def cached_losses(lesson: Lesson, device: str, progress=None) -> dict[str, list[list[float]]]:
    from explorer.analysis.lessons.experiments import training_losses

    return measured("losses", lesson, device, lambda: training_losses(lesson, device, progress))


def _minutes(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def recorded(lesson: Lesson, run: RecordedRun, device: str) -> None:
    """A recorded run of the lesson: its card, its curves and the claim judged on its numbers, at
    once; re-run live on request (the time it would take here shown first)."""
    from explorer.analysis.lessons.experiments import training_outcome

    card = run.card
    variant = lesson.with_params(**run.data["params"])
    outcome = training_outcome(variant, run.data["losses"])
    holds = claim_holds(variant, outcome)
    steps, seeds = variant.params["steps"], variant.params["seeds"]
    st.markdown(
        f"**{run.title}** — {steps:,} steps, seeds {', '.join(map(str, seeds))}, recorded on {card['device']} "
        f"({card.get('threads', '?')} thread{'s' if card.get('threads') != 1 else ''}, torch {card['torch']}) in "
        f"{_minutes(card['wall_s'])}."
    )
    said = (
        f"The recorded numbers {'show' if holds else 'do not show'} the claim "
        f"(it expects **{lesson.claim.expect}** highest) — {measured_line(lesson, outcome.values)}."
    )
    (st.success if holds else st.warning)(said)
    columns = st.columns(2)
    for i, panel in enumerate(outcome.panels):
        columns[i % 2].plotly_chart(panel_figure(panel), key=f"lessons.recorded.{run.name}.{i}")
    with st.expander("How it was made"):
        st.code(card["command"], language="bash")
        st.caption(
            f"Created {card.get('created', '?')} · load average then {card.get('load', '?')} · "
            f"data checksum `{card['checksum']}`"
        )
    key = f"lessons.rerun.{run.name}"
    if not st.session_state.get(key):
        st.button("Re-run it live…", key=f"{key}.ask", on_click=lambda: st.session_state.update({key: True}))
        return
    with st.spinner("Timing a few steps here…"):
        estimate = cached_estimate(variant, device)
    st.info(f"Re-running takes about **{_minutes(estimate)}** on {device} (timed here, now).")
    if st.button(f"Start ({_minutes(estimate)})", key=f"{key}.start", type="primary"):
        bar = st.progress(0.0, text="Starting…")
        losses = cached_losses(variant, device, lambda done, text: bar.progress(done, text=text))
        bar.empty()
        worst = max(
            abs(a - b)
            for label, runs in losses.items()
            for live, stored in zip(runs, run.data["losses"][label], strict=True)
            for a, b in zip(live, stored, strict=True)
        )
        if worst == 0:
            st.success("Re-run here: every step's loss matches the record exactly.")
        else:
            st.warning(
                f"Re-run here: the losses differ from the record by up to {worst:.3g} (another device, thread "
                "count or torch version rounds differently); the figures below are this run's."
            )
            live = training_outcome(variant, losses)
            st.markdown(f"**Measured here.** {measured_line(lesson, live.values)}.")


def _go(name: str) -> None:
    st.query_params["lesson"] = name
    st.session_state["lessons.choice"] = name


def _chosen() -> None:
    present = st.query_params.get("present")
    st.query_params.clear()  # the previous lesson's config keys go too
    st.query_params["lesson"] = st.session_state["lessons.choice"]
    if present:
        st.query_params["present"] = present


def _present() -> None:
    if st.session_state["lessons.presenter"]:
        st.query_params["present"] = "on"
    else:
        st.query_params.pop("present", None)


def _lesson_from_url(lesson: Lesson) -> Lesson:
    """A one-config lesson runs on the config keys of the URL, where it has some."""
    keys = {k: v for k, v in st.query_params.items() if k not in ("lesson", "present")}
    if len(lesson.configs) != 1 or not keys:
        return lesson
    try:
        return lesson.with_config(format_query(parse_query(keys)))
    except ConfigError as error:
        st.warning(f"The link's config keys are not used: {error}")
        return lesson


def prediction_widget(lesson: Lesson) -> str | float:
    question = lesson.question
    key = f"lessons.predict.{lesson.name}"
    if question.widget == "choice":
        return st.radio(question.text, question.options, key=key, index=None) or ""
    default = question.default if question.default is not None else (question.minimum + question.maximum) / 2
    return st.slider(
        question.text,
        question.minimum,
        question.maximum,
        float(default),
        question.step,
        key=key,
        format=f"%g{question.unit}" if question.unit in ("×", "%") else "%g",
    )


def input_widgets(lesson: Lesson) -> Lesson:
    if not lesson.inputs:
        return lesson
    columns = st.columns(len(lesson.inputs))
    chosen = {
        item.name: column.slider(
            item.label,
            item.minimum,
            item.maximum,
            item.default,
            item.step,
            key=f"lessons.input.{lesson.name}.{item.name}",
        )
        for column, item in zip(columns, lesson.inputs, strict=True)
    }
    return lesson.with_params(**chosen)


def reveal(lesson: Lesson, run: LessonRun) -> None:
    st.subheader("4. The reveal")
    said = verdict(lesson, run.prediction, run.truth, run.right)
    if run.right is None:
        st.warning(said)
    else:
        (st.success if run.right else st.info)(said)
    numbers = measured_line(lesson, run.outcome.values)
    if numbers:
        st.markdown(f"**Measured.** {numbers}.")
    columns = st.columns(min(2, len(run.outcome.panels)))
    for i, panel in enumerate(run.outcome.panels):
        columns[i % len(columns)].plotly_chart(panel_figure(panel), key=f"lessons.plot.{i}")
    st.markdown(f"**Why.** {lesson.why.strip()}")
    if lesson.claim.supported and run.claim_holds:
        st.caption("The measured numbers support the claim.")
    elif not lesson.claim.supported:
        st.warning(f"**At this scale the claim is not shown.** {lesson.claim.note.strip()}")
    else:
        st.warning(
            "**This run does not show the claim** (other seeds, another device or a changed setting can do "
            f"that): {numbers or 'see the table'}. The claim expects **{lesson.claim.expect or 'its range'}**."
        )
    with st.expander("Measured numbers"):
        table(list(run.outcome.table), hide_index=True)
    targets = links(lesson)
    if targets:
        st.markdown("**Open the same models:**")
        columns = st.columns(min(4, len(targets)))
        for i, (page, label, params, config) in enumerate(targets):
            columns[i % len(columns)].page_link(
                page,
                label=f"{label}{' — ' + config if config else ''}",
                query_params=params,
                icon=":material/open_in_new:",
            )


ensure_router()
lessons, errors = load_lessons()
for error in errors:
    st.error(f"{error} — the other lessons still load.")
if not lessons:
    st.title("Lessons")
    st.info("No lessons found: add TOML files to assets/lessons/ (see assets/lessons/README.md).")
    st.stop()

by_name = {lesson.name: lesson for lesson in lessons}
names = list(by_name)
wanted = st.query_params.get("lesson")
if wanted is not None and wanted not in by_name:
    st.warning(f"There is no lesson '{wanted}'; allowed: {', '.join(names)}. Showing the first.")
if wanted not in by_name:
    wanted = names[0]
st.session_state["lessons.choice"] = wanted
if "lessons.presenter" not in st.session_state:
    st.session_state["lessons.presenter"] = st.query_params.get("present") == "on"
presenter = bool(st.session_state["lessons.presenter"])

if presenter:
    st.markdown(PRESENTER_CSS, unsafe_allow_html=True)
top = st.columns([3, 2, 1])  # the toggle's label whole in large type on a 1280 px projector
top[0].selectbox("Lesson", names, format_func=lambda n: by_name[n].title, key="lessons.choice", on_change=_chosen)
top[1].toggle("Presenter mode", key="lessons.presenter", on_change=_present, help="Large type, no sidebar")
tally = LESSON_TALLY.get_or_create()
top[2].metric("Tally", f"{tally.right} of {tally.answered}", help=tally_text(tally.right, tally.answered))

lesson = _lesson_from_url(by_name[wanted])
position = names.index(lesson.name)
st.title(lesson.title)
st.caption(
    f"Lesson {position + 1} of {len(names)} · its link: `{lesson_link(lesson.name)}` · "
    f"{tally_text(tally.right, tally.answered)}."
)
if presenter:
    back, _, forward = st.columns([1, 4, 1])
    back.button(
        "◀ Previous", key="lessons.previous", disabled=position == 0, on_click=_go, args=(names[max(position - 1, 0)],)
    )
    forward.button(
        "Next ▶",
        key="lessons.next",
        disabled=position == len(names) - 1,
        on_click=_go,
        args=(names[min(position + 1, len(names) - 1)],),
    )

st.subheader("1. The claim")
st.markdown(lesson.claim_text.strip())
st.subheader("2. Your prediction")
lesson = input_widgets(lesson)
prediction = prediction_widget(lesson)
st.subheader("3. Run it")
device = current_device()
key = (lesson, device)
runs = LESSON_RUNS.get_or_create().runs
if st.button(
    "Run the experiment",
    key="lessons.run",
    type="primary",
    disabled=prediction == "",
    help="Predict first" if prediction == "" else f"Computes live on {device} ({lesson.seconds or 'a moment'})",
):
    with st.status(f"Running on {device}…", expanded=True) as status:
        bar = st.progress(0.0, text="Starting…") if lesson.kind == "training_comparison" else None
        try:
            report = (lambda done, text: bar.progress(done, text=text)) if bar is not None else None
            outcome = cached_outcome(lesson, device, report)
        except ValueError as error:  # TooLargeError (the size guard) is one
            status.update(label="Not run", state="error")
            st.error(f"The experiment cannot run here: {error}")
            st.stop()
        truth = answer(lesson, outcome)
        right = is_right(lesson, outcome, prediction)
        if bar is not None:
            bar.empty()
        status.update(label=f"Measured: {format_value(truth, lesson.question.unit)}", state="complete", expanded=False)
    runs[lesson.name] = LessonRun(lesson.name, key, prediction, outcome, truth, right, claim_holds(lesson, outcome))
    tally.record(lesson.name, right)
    st.rerun()
run = runs.get(lesson.name)
if run is not None and run.key == key:
    reveal(lesson, run)
else:
    st.caption("Predict first, then run: the answer is measured now, not looked up.")

stored, unreadable = recorded_runs(kind="lesson")
stored = [r for r in stored if r.card.get("lesson") == lesson.name]
for problem in unreadable:
    st.error(str(problem))
if stored:
    st.subheader("5. Given longer (recorded runs)")
    st.caption("Runs too long for a class, recorded once with the exact command below; opened, not re-computed.")
    for recorded_run in stored:
        recorded(lesson, recorded_run, device)
