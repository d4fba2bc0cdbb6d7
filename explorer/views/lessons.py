"""Figures and words for a lesson's reveal: one plotly figure per measured panel, the prediction
beside the result, and the links into the other pages. No torch, no streamlit."""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlencode

import plotly.graph_objects as go

from explorer.analysis.lessons import Lesson, Panel
from explorer.formatting import human_duration

__all__ = [
    "LINK_PAGES",
    "format_value",
    "lesson_link",
    "links",
    "measured_line",
    "panel_figure",
    "tally_text",
    "verdict",
]

#: Page key -> (page file, label) for the links a lesson may name.
LINK_PAGES = {
    "build": ("pages/build.py", "Build"),
    "graph": ("pages/graph.py", "Graph"),
    "signal": ("pages/signal.py", "Signal flow"),
    "scaling": ("pages/scaling.py", "Scaling lab"),
    "inside": ("pages/inside.py", "Inside"),
}


def panel_figure(panel: Panel) -> go.Figure:
    figure = go.Figure()
    for series in panel.series:
        if panel.style == "bar":
            error = dict(type="data", array=list(series.error), visible=True) if series.error else None
            figure.add_bar(name=series.label, x=list(series.x), y=list(series.y), error_y=error)
        elif panel.style == "scatter":
            figure.add_scatter(
                name=series.label,
                x=list(series.x),
                y=list(series.y),
                mode="markers+text" if series.text else "markers",
                text=list(series.text) if series.text else None,
                textposition="top center",
            )
        else:
            mode = "lines" if len(series.x) > 30 else "lines+markers"  # markers only where they can be told apart
            figure.add_scatter(name=series.label, x=list(series.x), y=list(series.y), mode=mode)
    figure.update_layout(
        title=panel.title,
        xaxis_title=panel.x_title,
        yaxis_title=panel.y_title,
        barmode="group",
        height=380,
        margin=dict(l=10, r=10, t=50, b=10),
        legend=dict(orientation="h", y=-0.2),
    )
    if panel.log_y:
        figure.update_yaxes(type="log")
    if panel.log_x:
        figure.update_xaxes(type="log")
    return figure


def format_value(value: Any, unit: str = "") -> str:
    if isinstance(value, str):
        return value
    if not math.isfinite(value):
        return str(value)
    text = f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return f"{text}{unit}" if unit in ("×", "%") else f"{text} {unit}".strip()


def verdict(lesson: Lesson, prediction: str | float, truth: str | float, right: bool | None) -> str:
    """One line: what was predicted, what was measured, and whether they agree (``right`` None: the
    numbers do not support the claim, so no pick is called right or wrong)."""
    unit = lesson.question.unit
    said = format_value(prediction, unit)
    got = format_value(truth, unit)
    if isinstance(truth, str):
        if right is None:
            return (
                f"You predicted **{said}**. This run measured **{got}**, but its numbers do not show the claim "
                "(see below), so no prediction is called right or wrong this time."
            )
        return f"You predicted **{said}**; the measurement says **{got}**: {'right' if right else 'not this time'}."
    tolerance = f"{lesson.rule.tolerance:.0%}"
    return (
        f"You predicted **{said}**; measured **{got}** "
        f"({'within' if right else 'outside'} {tolerance} of it: {'right' if right else 'not this time'})."
    )


def measured_line(lesson: Lesson, values: dict[str, float]) -> str:
    """The measured numbers a choice is decided on, one per option, with the claim's margin (e.g.
    "final loss (± final loss spread): plain-20 1.95 ± 0.026 · plain-56 2.08 ± 0.0042"); "" for
    other questions."""
    rule, margin = lesson.rule, lesson.claim.margin
    if lesson.question.widget != "choice" or not rule.pick:
        return ""
    parts = []
    for option in lesson.question.options:
        value = values.get(f"{option}.{rule.metric}")
        if value is None:
            return ""
        spread = values.get(f"{option}.{margin}") if margin else None
        parts.append(f"{option} {value:.3g}" + (f" ± {spread:.2g}" if spread is not None else ""))
    words = f" (± {margin.replace('_', ' ')})" if margin else ""
    return f"{rule.metric.replace('_', ' ')}{words}: " + " · ".join(parts)


def tally_text(right: int, answered: int) -> str:
    return f"You predicted {right} of {answered}" if answered else "No predictions yet"


def lesson_link(name: str, query: str | None = None) -> str:
    """The lesson's own link (relative to the app's root), with a config's keys where it has one."""
    from explorer.knobs import query_to_dict

    return "/lessons?" + urlencode({"lesson": name, **(query_to_dict(query) if query else {})})


def links(lesson: Lesson) -> list[tuple[str, str, dict[str, str], str]]:
    """(page file, label, query params, config label) for every page the lesson links to and every
    config it runs; lessons without configs link to the page alone."""
    from explorer.knobs import query_to_dict

    out: list[tuple[str, str, dict[str, str], str]] = []
    for key in lesson.links:
        page, label = LINK_PAGES[key]
        if not lesson.configs:
            out.append((page, label, {}, ""))
        for config in lesson.configs:
            out.append((page, label, dict(query_to_dict(config.query)), config.label))
    return out


def recorded_heading(title: str, card: dict[str, Any], steps: int, seeds: list[int]) -> str:
    """A recorded run's heading (markdown): what ran, where, with which torch, how long."""
    threads = card.get("threads", "?")
    return (
        f"**{title}** — {steps:,} steps, seeds {', '.join(map(str, seeds))}, recorded on {card['device']} "
        f"({threads} thread{'s' if threads != 1 else ''}, torch {card['torch']}) in {human_duration(card['wall_s'])}."
    )


def recorded_claim(lesson: Lesson, holds: bool, values: dict[str, float]) -> str:
    """Whether a recorded run's numbers show the lesson's claim, with the numbers."""
    return (
        f"The recorded numbers {'show' if holds else 'do not show'} the claim "
        f"(it expects **{lesson.claim.expect}** highest) — {measured_line(lesson, values)}."
    )


def rerun_difference(worst: float) -> str:
    """A live re-run against its record: the largest difference of any step's loss."""
    if worst == 0:
        return "Re-run here: every step's loss matches the record exactly."
    return (
        f"Re-run here: the losses differ from the record by up to {worst:.3g} (another device, thread "
        "count or torch version rounds differently); the figures below are this run's."
    )


def claim_not_shown(expect: str | None, numbers: str) -> str:
    return (
        "**This run does not show the claim** (other seeds, another device or a changed setting can do "
        f"that): {numbers or 'see the table'}. The claim expects **{expect or 'its range'}**."
    )
