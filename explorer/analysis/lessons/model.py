"""What a lesson is (the parsed file) and what a run returns (values, panels, a table).

See :mod:`explorer.analysis.lessons` for the whole picture and ``assets/lessons/README.md`` for the file.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from explorer.config import parse_query
from explorer.errors import InputError

LESSONS_DIR = Path(__file__).resolve().parents[3] / "assets" / "lessons"
#: Environment variable naming another folder of lessons (a teacher's own, or a test's).
LESSONS_ENV = "EXPLORER_LESSONS_DIR"
PAGES = ("build", "graph", "signal", "scaling", "inside")


class LessonError(InputError):
    """A lesson file that cannot be used; the message names the file and the field."""


# -- what a run returns ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Series:
    label: str
    x: tuple[Any, ...]
    y: tuple[float, ...]
    error: tuple[float, ...] | None = None
    text: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Panel:
    title: str
    x_title: str
    y_title: str
    #: line, bar or scatter
    style: str
    series: tuple[Series, ...]
    log_y: bool = False
    log_x: bool = False


@dataclass(frozen=True)
class Outcome:
    values: dict[str, float]
    panels: tuple[Panel, ...]
    table: tuple[dict[str, Any], ...] = ()


# -- the lesson ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Config:
    label: str
    query: str
    #: Optional: the curve this config belongs to and its place on it (e.g. "no skips", depth 56).
    group: str | None = None
    x: float | None = None


@dataclass(frozen=True)
class Input:
    """A slider the class moves before running (an experiment parameter), e.g. the kernel size."""

    name: str
    label: str
    minimum: int
    maximum: int
    step: int
    default: int


@dataclass(frozen=True)
class Question:
    text: str
    widget: str  # choice or slider
    options: tuple[str, ...] = ()
    minimum: float = 0.0
    maximum: float = 1.0
    step: float = 0.1
    default: float | None = None
    unit: str = ""


@dataclass(frozen=True)
class Rule:
    metric: str
    pick: str | None = None  # max or min (choice)
    bands: tuple[float, ...] = ()  # choice: options[i] when value < bands[i], the last option otherwise
    tolerance: float = 0.2  # slider: relative


@dataclass(frozen=True)
class Claim:
    expect: str | None = None
    expect_min: float | None = None
    expect_max: float | None = None
    #: Choice claims: a metric whose value per option (a spread) the winner must clear the runner-up by.
    margin: str | None = None
    #: Choice claims: further orderings the claim makes, "<option> <= <option>" over the rule's metric.
    also: tuple[str, ...] = ()
    supported: bool = True
    note: str = ""


@dataclass(frozen=True)
class Lesson:
    name: str
    title: str
    order: int
    path: Path
    claim_text: str
    why: str
    kind: str
    configs: tuple[Config, ...]
    params: dict[str, Any]
    question: Question
    rule: Rule
    claim: Claim
    links: tuple[str, ...] = ()
    inputs: tuple[Input, ...] = ()
    seconds: str = ""

    def with_params(self, **params: Any) -> Lesson:
        return replace(self, params={**self.params, **params})

    def with_config(self, query: str) -> Lesson:
        """The lesson run on ``query`` instead of its one config (a link's config keys)."""
        if len(self.configs) != 1:
            raise InputError(
                f"lesson '{self.name}' compares {len(self.configs)} configs; only one-config lessons take one"
            )
        parse_query(query)
        return replace(self, configs=(replace(self.configs[0], query=query),))
