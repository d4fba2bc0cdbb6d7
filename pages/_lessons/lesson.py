"""One lesson's steps: the inputs and the prediction, the live run, and the reveal."""

from __future__ import annotations

import streamlit as st

from explorer.analysis.lessons import Lesson, answer, claim_holds, is_right
from explorer.views.lessons import claim_not_shown, format_value, links, measured_line, panel_figure, verdict
from pages._lessons.measured import cached_outcome
from pages._lessons.state import W
from pages._shared.state import LESSON_RUNS, LESSON_TALLY, LessonRun
from pages._shared.tables import table


def prediction_widget(lesson: Lesson) -> str | float:
    question = lesson.question
    key = W.predict.at(lesson.name)
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
    """The lesson with the values of its input sliders (a lesson without inputs as it is)."""
    if not lesson.inputs:
        return lesson
    columns = st.columns(len(lesson.inputs))
    chosen = {
        item.name: column.slider(
            item.label, item.minimum, item.maximum, item.default, item.step, key=W.input.at(lesson.name, item.name)
        )
        for column, item in zip(columns, lesson.inputs, strict=True)
    }
    return lesson.with_params(**chosen)


def run_button(lesson: Lesson, prediction: str | float, device: str) -> None:
    """Run the experiment (once predicted), keep the outcome and tally the prediction."""
    if not st.button(
        "Run the experiment",
        key=W.run.key,
        type="primary",
        disabled=prediction == "",
        help="Predict first" if prediction == "" else f"Computes live on {device} ({lesson.seconds or 'a moment'})",
    ):
        return
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
    key = (lesson, device)
    run = LessonRun(lesson.name, key, prediction, outcome, truth, right, claim_holds(lesson, outcome))
    LESSON_RUNS.get_or_create().runs[lesson.name] = run
    LESSON_TALLY.get_or_create().record(lesson.name, right)
    st.rerun()


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
        columns[i % len(columns)].plotly_chart(panel_figure(panel), key=W.plot.at(i))
    st.markdown(f"**Why.** {lesson.why.strip()}")
    if lesson.claim.supported and run.claim_holds:
        st.caption("The measured numbers support the claim.")
    elif not lesson.claim.supported:
        st.warning(f"**At this scale the claim is not shown.** {lesson.claim.note.strip()}")
    else:
        st.warning(claim_not_shown(lesson.claim.expect, numbers))
    with st.expander("Measured numbers"):
        table(list(run.outcome.table), hide_index=True)
    open_links(lesson)


def open_links(lesson: Lesson) -> None:
    targets = links(lesson)
    if not targets:
        return
    st.markdown("**Open the same models:**")
    columns = st.columns(min(4, len(targets)))
    for i, (page, label, params, config) in enumerate(targets):
        columns[i % len(columns)].page_link(
            page, label=f"{label}{' — ' + config if config else ''}", query_params=params, icon=":material/open_in_new:"
        )
