"""Reading lesson files: TOML, every field checked, every error naming the file and the field."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from explorer.analysis.lessons.experiments import EXPERIMENTS
from explorer.analysis.lessons.model import (
    LESSONS_DIR,
    LESSONS_ENV,
    PAGES,
    Claim,
    Config,
    Input,
    Lesson,
    LessonError,
    Question,
    Rule,
)
from explorer.config import parse_query
from explorer.knobs import ConfigError


# -- reading the files -----------------------------------------------------------------------------
class _Reader:
    """Typed access to a TOML table, every error naming the file and the dotted field."""

    def __init__(self, path: Path, data: Mapping[str, Any], prefix: str = "") -> None:
        self.path, self.data, self.prefix = path, data, prefix

    def fail(self, key: str, problem: str) -> LessonError:
        return LessonError(f"lesson file {self.path.name}: field '{self.prefix}{key}' {problem}")

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = ..., allow_none: bool = False) -> Any:
        if key not in self.data:
            if default is ...:
                raise self.fail(key, "is missing")
            return default
        value = self.data[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if float in kinds and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if isinstance(value, bool) and bool not in kinds:
            raise self.fail(key, f"must be {_kind_words(kinds)}, not {value!r}")
        if not isinstance(value, kinds):
            raise self.fail(key, f"must be {_kind_words(kinds)}, not {type(value).__name__} {value!r}")
        return value

    def table(self, key: str, required: bool = True) -> _Reader:
        value = self.get(key, dict, ... if required else {})
        return _Reader(self.path, value, f"{self.prefix}{key}.")

    def strings(self, key: str, default: Any = ...) -> tuple[str, ...]:
        value = self.get(key, list, default)
        if not all(isinstance(v, str) for v in value):
            raise self.fail(key, "must be a list of strings")
        return tuple(value)


def _same_kind(value: Any, default: Any) -> bool:
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(default, int):
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, type(default))


def _kind_words(kinds: tuple[type, ...]) -> str:
    names = {str: "text", int: "an integer", float: "a number", bool: "true or false", list: "a list", dict: "a table"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def load_lesson(path: Path) -> Lesson:
    """Read and check one lesson file (LessonError naming the file and the field if it is wrong)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise LessonError(f"lesson file {path.name}: not valid TOML ({error})") from None
    except (OSError, UnicodeDecodeError) as error:
        raise LessonError(f"lesson file {path.name}: cannot be read ({error})") from None
    top = _Reader(path, data)
    experiment = top.table("experiment")
    kind = experiment.get("kind", str)
    if kind not in EXPERIMENTS:
        raise experiment.fail("kind", f"is '{kind}'; allowed: {', '.join(EXPERIMENTS)}")
    configs = []
    for i, raw in enumerate(experiment.get("configs", list, [])):
        if not isinstance(raw, dict):
            raise experiment.fail(f"configs[{i}]", "must be a table with label and query")
        entry = _Reader(path, raw, f"experiment.configs[{i}].")
        query = entry.get("query", str)
        try:
            parse_query(query)
        except ConfigError as error:
            raise entry.fail("query", f"is not a valid config: {error}") from None
        x = entry.get("x", (int, float), None)
        configs.append(Config(entry.get("label", str), query, entry.get("group", str, None), x))
    labels = [c.label for c in configs]
    if len(set(labels)) != len(labels):
        raise experiment.fail("configs", "has two configs with the same label")
    params = {k: v for k, v in experiment.data.items() if k not in ("kind", "configs")}
    for key, value in params.items():
        if key not in EXPERIMENTS[kind].params:
            allowed = ", ".join(EXPERIMENTS[kind].params) or "none"
            raise experiment.fail(key, f"is not a parameter of {kind}; allowed: {allowed}")
        default = EXPERIMENTS[kind].params[key]
        if not _same_kind(value, default):
            raise experiment.fail(key, f"is not {_kind_words((type(default),))} ({value!r})")
        if isinstance(default, float):
            params[key] = float(value)
    if EXPERIMENTS[kind].needs_configs and not configs:
        raise experiment.fail("configs", f"is missing: {kind} needs at least one config")

    q = top.table("question")
    widget = q.get("widget", str)
    if widget not in ("choice", "slider"):
        raise q.fail("widget", f"is '{widget}'; allowed: choice, slider")
    question = Question(
        text=q.get("text", str),
        widget=widget,
        options=q.strings("options", tuple(labels) if widget == "choice" else ()),
        minimum=q.get("min", float, 0.0),
        maximum=q.get("max", float, 1.0),
        step=q.get("step", float, 0.1),
        default=q.get("default", float, None),
        unit=q.get("unit", str, ""),
    )
    if widget == "choice" and len(question.options) < 2:
        raise q.fail("options", "needs at least two options")
    if widget == "slider" and not question.minimum < question.maximum:
        raise q.fail("max", "must be larger than min")

    a = top.table("answer")
    rule = Rule(
        metric=a.get("metric", str),
        pick=a.get("pick", str, None),
        bands=tuple(a.get("bands", list, [])),
        tolerance=a.get("tolerance", float, 0.2),
    )
    if widget == "choice":
        if rule.pick is None and not rule.bands:
            raise a.fail("pick", "is missing: a choice needs pick (max or min) or bands")
        if rule.pick not in (None, "max", "min"):
            raise a.fail("pick", f"is '{rule.pick}'; allowed: max, min")
        if rule.bands and len(rule.bands) != len(question.options) - 1:
            raise a.fail("bands", f"needs {len(question.options) - 1} thresholds, one fewer than the options")
        if not all(isinstance(b, (int, float)) for b in rule.bands):
            raise a.fail("bands", "must be a list of numbers")

    c = top.table("claim")
    claim = Claim(
        expect=c.get("expect", str, None),
        expect_min=c.get("min", float, None),
        expect_max=c.get("max", float, None),
        margin=c.get("margin", str, None),
        also=c.strings("also", ()),
        supported=c.get("supported", bool, True),
        note=c.get("note", str, ""),
    )
    if widget == "choice" and claim.expect not in question.options:
        raise c.fail("expect", f"must be one of the options: {', '.join(question.options)}")
    if widget == "slider" and claim.expect_min is None and claim.expect_max is None:
        raise c.fail("min", "is missing: a slider claim needs min, max or both")
    for condition in claim.also:
        parts = re.split(r"\s*(?:<=|>=|<|>)\s*", condition.strip())
        if len(parts) != 2 or any(part not in question.options for part in parts):
            raise c.fail("also", f"has '{condition}'; allowed: '<option> <= <option>' (or >=, <, >) over the options")
    scale = params.get("scale")
    if (
        scale is not None
        and scale != []
        and not (len(scale) == 2 and all(_same_kind(v, 0.0) for v in scale) and 0 < scale[0] <= scale[1] <= 1)
    ):
        raise experiment.fail("scale", f"is {scale!r}; allowed: [] or [low, high] with 0 < low <= high <= 1")
    if not claim.supported and not claim.note:
        raise c.fail("note", "is missing: a claim the numbers do not support must say so, with the numbers")

    links = top.strings("links", ())
    for link in links:
        if link not in PAGES:
            raise top.fail("links", f"has '{link}'; allowed: {', '.join(PAGES)}")
    inputs = []
    for i, raw in enumerate(top.get("inputs", list, [])):
        entry = _Reader(path, raw if isinstance(raw, dict) else {}, f"inputs[{i}].")
        name = entry.get("name", str)
        if name not in EXPERIMENTS[kind].params:
            raise entry.fail("name", f"is '{name}', not a parameter of {kind}")
        inputs.append(
            Input(
                name,
                entry.get("label", str),
                entry.get("min", int),
                entry.get("max", int),
                entry.get("step", int, 1),
                entry.get("default", int, params.get(name, 1)),
            )
        )
    return Lesson(
        name=top.get("name", str, path.stem),
        title=top.get("title", str),
        order=top.get("order", int, 100),
        path=path,
        claim_text=top.get("statement", str),
        why=top.get("why", str),
        kind=kind,
        configs=tuple(configs),
        params=params,
        question=question,
        rule=rule,
        claim=claim,
        links=links,
        inputs=tuple(inputs),
        seconds=top.get("seconds", str, ""),
    )


def lessons_dir() -> Path:
    """The lessons folder: ``$EXPLORER_LESSONS_DIR`` if set, else ``assets/lessons``."""
    return Path(os.environ.get(LESSONS_ENV) or LESSONS_DIR)


def load_lessons(folder: Path | None = None) -> tuple[list[Lesson], list[LessonError]]:
    """Every lesson of ``folder`` (default :func:`lessons_dir`) in ``order``, and the errors of the
    files that could not be read."""
    folder = folder or lessons_dir()
    lessons, errors = [], []
    for path in sorted(folder.glob("*.toml")):
        try:
            lessons.append(load_lesson(path))
        except LessonError as error:
            errors.append(error)
    names = [lesson.name for lesson in lessons]
    for name in {n for n in names if names.count(n) > 1}:
        errors.append(LessonError(f"lesson name '{name}' is used by more than one file; the first is kept"))
        lessons = [lesson for i, lesson in enumerate(lessons) if lesson.name != name or names.index(name) == i]
    return sorted(lessons, key=lambda lesson: (lesson.order, lesson.name)), errors
