"""The Lessons page's widget keys and its URL (``lesson=<name>``, ``present=on``)."""

from __future__ import annotations

import streamlit as st

from explorer.analysis.lessons import Lesson
from explorer.config import parse_query
from explorer.knobs import ConfigError, format_query
from pages._shared.state import Widget, Widgets


class W(Widgets, prefix="lessons"):
    choice = Widget[str]()
    presenter = Widget[bool]()
    previous = Widget[bool]()
    next = Widget[bool]()
    run = Widget[bool]()
    #: Per lesson: ``W.predict.at(name)``, ``W.input.at(name, input)``; per recorded run
    #: ``W.rerun.at(run)`` (set once asked), with its ``.ask`` and ``.start`` buttons.
    predict = Widget[object]()
    input = Widget[float]()
    rerun = Widget[bool]()
    #: A reveal's plots: ``W.plot.at(i)``; a recorded run's: ``W.recorded.at(run, i)``.
    plot = Widget[None]()
    recorded = Widget[None]()


#: The page's own URL parameters (every other one is a config key).
URL_KEYS = ("lesson", "present")


def go(name: str) -> None:
    st.query_params["lesson"] = name
    W.choice.set(name)


def chosen() -> None:
    present = st.query_params.get("present")
    st.query_params.clear()  # the previous lesson's config keys go too
    st.query_params["lesson"] = W.choice.value
    if present:
        st.query_params["present"] = present


def toggle_presenter() -> None:
    if W.presenter.value:
        st.query_params["present"] = "on"
    else:
        st.query_params.pop("present", None)


def wanted_lesson(names: list[str]) -> str:
    """The lesson the URL asks for (the first, with a warning, when there is no such lesson)."""
    wanted = st.query_params.get("lesson")
    if wanted is not None and wanted not in names:
        st.warning(f"There is no lesson '{wanted}'; allowed: {', '.join(names)}. Showing the first.")
    return wanted if wanted in names else names[0]


def lesson_from_url(lesson: Lesson) -> Lesson:
    """A one-config lesson runs on the config keys of the URL, where it has some."""
    keys = {k: v for k, v in st.query_params.items() if k not in URL_KEYS}
    if len(lesson.configs) != 1 or not keys:
        return lesson
    try:
        return lesson.with_config(format_query(parse_query(keys)))
    except ConfigError as error:
        st.warning(f"The link's config keys are not used: {error}")
        return lesson
