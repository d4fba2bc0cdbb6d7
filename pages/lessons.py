"""Lessons: a claim, a prediction, a live experiment, the reveal. Lessons are files in assets/lessons/;
the page's parts live in ``pages/_lessons/``."""

from __future__ import annotations

import streamlit as st

from explorer.analysis.lessons import load_lessons
from explorer.analysis.runs import recorded_runs
from explorer.views.lessons import lesson_link, tally_text
from pages._lessons.lesson import input_widgets, prediction_widget, reveal, run_button
from pages._lessons.measured import recorded
from pages._lessons.state import W, chosen, go, lesson_from_url, toggle_presenter, wanted_lesson
from pages._shared.device import current_device
from pages._shared.routing import ensure_router
from pages._shared.state import LESSON_RUNS, LESSON_TALLY

PRESENTER_CSS = """
<style>
section[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"] { display: none; }
.stMainBlockContainer p, .stMainBlockContainer li, .stMainBlockContainer label { font-size: 1.6rem !important; }
.stMainBlockContainer h1 { font-size: 3.2rem !important; }
</style>
"""

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
W.choice.set(wanted_lesson(names))
if not W.presenter.is_set:
    W.presenter.set(st.query_params.get("present") == "on")
presenter = bool(W.presenter.value)
if presenter:
    st.markdown(PRESENTER_CSS, unsafe_allow_html=True)

top = st.columns([3, 2, 1])  # the toggle's label whole in large type on a 1280 px projector
top[0].selectbox("Lesson", names, format_func=lambda n: by_name[n].title, key=W.choice.key, on_change=chosen)
top[1].toggle("Presenter mode", key=W.presenter.key, on_change=toggle_presenter, help="Large type, no sidebar")
tally = LESSON_TALLY.get_or_create()
top[2].metric("Tally", f"{tally.right} of {tally.answered}", help=tally_text(tally.right, tally.answered))

lesson = lesson_from_url(by_name[W.choice.value])
position = names.index(lesson.name)
st.title(lesson.title)
st.caption(
    f"Lesson {position + 1} of {len(names)} · its link: `{lesson_link(lesson.name)}` · "
    f"{tally_text(tally.right, tally.answered)}."
)
if presenter:
    back, _, forward = st.columns([1, 4, 1])
    previous, following = names[max(position - 1, 0)], names[min(position + 1, len(names) - 1)]
    back.button("◀ Previous", key=W.previous.key, disabled=position == 0, on_click=go, args=(previous,))
    forward.button("Next ▶", key=W.next.key, disabled=position == len(names) - 1, on_click=go, args=(following,))

st.subheader("1. The claim")
st.markdown(lesson.claim_text.strip())
st.subheader("2. Your prediction")
lesson = input_widgets(lesson)
prediction = prediction_widget(lesson)
st.subheader("3. Run it")
device = current_device()
run_button(lesson, prediction, device)
run = LESSON_RUNS.get_or_create().runs.get(lesson.name)
if run is not None and run.key == (lesson, device):
    reveal(lesson, run)
else:
    st.caption("Predict first, then run: the answer is measured now, not looked up.")

stored, unreadable = recorded_runs(kind="lesson")
for problem in unreadable:
    st.error(str(problem))
stored = [r for r in stored if r.card.get("lesson") == lesson.name]
if stored:
    st.subheader("5. Given longer (recorded runs)")
    st.caption("Runs too long for a class, recorded once with the exact command below; opened, not re-computed.")
    for recorded_run in stored:
        recorded(lesson, recorded_run, device)
