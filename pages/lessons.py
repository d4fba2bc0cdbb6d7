"""Lessons: a claim, a prediction, a live experiment, the reveal. Lessons are files in assets/lessons/."""

from __future__ import annotations

import streamlit as st

from explorer.analysis.lessons import Lesson, Outcome, answer, claim_holds, is_right, load_lessons, run_lesson
from explorer.config import ConfigError, format_query, parse_query
from explorer.views.lessons import format_value, lesson_link, links, panel_figure, tally_text, verdict
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


@st.cache_data(max_entries=64, show_spinner=False)
def cached_outcome(lesson: Lesson, device: str) -> Outcome:
    """Keyed by the whole lesson (its text, configs and parameters) and the device."""
    return run_lesson(lesson, device)


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
    (st.success if run.right else st.info)(verdict(lesson, run.prediction, run.truth, run.right))
    columns = st.columns(min(2, len(run.outcome.panels)))
    for i, panel in enumerate(run.outcome.panels):
        columns[i % len(columns)].plotly_chart(panel_figure(panel), key=f"lessons.plot.{i}")
    st.markdown(f"**Why.** {lesson.why.strip()}")
    if lesson.claim.supported and run.claim_holds:
        st.caption("The measured numbers support the claim.")
    elif not lesson.claim.supported:
        st.warning(f"**At this scale the claim is not shown.** {lesson.claim.note.strip()}")
    else:
        st.warning("These measured numbers do not support the claim as stated (see the table).")
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
top = st.columns([3, 1, 1])
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
    with st.status(f"Running on {device}…", expanded=False) as status:
        try:
            outcome = cached_outcome(lesson, device)
        except ValueError as error:  # TooLargeError (the size guard) is one
            status.update(label="Not run", state="error")
            st.error(f"The experiment cannot run here: {error}")
            st.stop()
        truth = answer(lesson, outcome)
        right = is_right(lesson, outcome, prediction)
        status.update(label=f"Measured: {format_value(truth, lesson.question.unit)}", state="complete")
    runs[lesson.name] = LessonRun(lesson.name, key, prediction, outcome, truth, right, claim_holds(lesson, outcome))
    tally.record(lesson.name, right)
    st.rerun()
run = runs.get(lesson.name)
if run is not None and run.key == key:
    reveal(lesson, run)
else:
    st.caption("Predict first, then run: the answer is measured now, not looked up.")
