"""Typed values kept in a browser session, one :class:`Slot` each, instead of string keys and
untyped tuples spread over the pages. Widget keys stay strings (they name widgets); everything a
page keeps between reruns lives here."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import streamlit as st

from explorer.knobs import ModelConfig
from explorer.measure.profile_data import Profile

if TYPE_CHECKING:  # these import torch: the slots name them as "module:Class", resolved on use
    from explorer.analysis.lessons import Outcome
    from explorer.analysis.search import BackgroundSearch
    from explorer.analysis.training import TrainingRun
    from explorer.runtime.weights import ExplainableModel

T = TypeVar("T")


class Slot(Generic[T]):
    """One value of type ``kind`` in ``st.session_state[key]``; a value of another type is an error.

    ``kind`` may be named as ``"module:Class"``, imported on first use: a slot of a class from a
    torch-importing module must not import torch before the app's first page is drawn."""

    def __init__(self, key: str, kind: type[T] | str, default: Callable[[], T] | None = None) -> None:
        self.key, self._kind, self.default = key, kind, default

    @property
    def kind(self) -> type[T]:
        if isinstance(self._kind, str):
            module, _, name = self._kind.partition(":")
            self._kind = getattr(importlib.import_module(module), name)
        return self._kind  # type: ignore[return-value]  # resolved from its name just above

    def get(self) -> T | None:
        value = st.session_state.get(self.key)
        if value is not None and not isinstance(value, self.kind):
            raise TypeError(f"session value '{self.key}' is a {type(value).__name__}, not a {self.kind.__name__}")
        return value

    def get_or_create(self) -> T:
        value = self.get()
        if value is None:
            if self.default is None:
                raise KeyError(f"session value '{self.key}' is not set and has no default")
            value = self.default()
            st.session_state[self.key] = value
        return value

    def set(self, value: T) -> None:
        if not isinstance(value, self.kind):
            raise TypeError(f"session value '{self.key}' must be a {self.kind.__name__}, not {type(value).__name__}")
        st.session_state[self.key] = value

    def pop(self) -> T | None:
        value = self.get()
        st.session_state.pop(self.key, None)
        return value


class Widget(Generic[T]):
    """A widget's key and its value, declared once on a :class:`Widgets` namespace: a page reads
    ``W.pinned.value`` and passes ``key=W.pinned.key`` instead of spelling ``"scaling.pinned"`` twice.

    The key is ``"<prefix>.<attribute name>"`` (or ``name``, where a URL or a test knows the key by
    another spelling); :meth:`at` gives keys of a family of widgets (``"signal.unpin.<query>"``)."""

    def __init__(self, name: str | None = None) -> None:
        self.name = name
        self.key = ""

    def __set_name__(self, owner: type, attribute: str) -> None:
        self.name = self.name or attribute  # the key itself is set by Widgets, which knows the prefix

    def at(self, *parts: object) -> str:
        """The key of one widget of the family: ``"<key>.<part>.<part>"``."""
        return ".".join((self.key, *map(str, parts)))

    @property
    def value(self) -> T:
        return st.session_state[self.key]

    def get(self, default: T | None = None) -> T | None:
        return st.session_state.get(self.key, default)

    def set(self, value: T) -> None:
        st.session_state[self.key] = value

    def setdefault(self, value: T) -> T:
        return st.session_state.setdefault(self.key, value)

    def pop(self, default: T | None = None) -> T | None:
        return st.session_state.pop(self.key, default)

    @property
    def is_set(self) -> bool:
        return self.key in st.session_state


class Widgets:
    """A page's widget keys as typed attributes (see :class:`Widget`): ``class ScalingWidgets(Widgets,
    prefix="scaling")``. Never instantiated: the class is the namespace."""

    prefix = ""

    def __init_subclass__(cls, prefix: str = "", **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.prefix = prefix
        for widget in vars(cls).values():
            if isinstance(widget, Widget):
                widget.key = f"{prefix}.{widget.name}"


@dataclass
class UrlSync:
    """How the sidebar's widgets and the URL agree (see ``pages/_shared/architecture.py``)."""

    #: The config this session last showed.
    config: ModelConfig | None = None
    #: The query the widgets were last set from.
    synced: str | None = None
    #: The config queries this session showed lately, oldest first: a run that brings one of them
    #: back (not by the browser's back/forward) was asked for before the browser had the URL of a later
    #: one, so its URL is stale and the widgets (the user's latest move) win.
    shown: tuple[str, ...] = ()
    #: The page the last run showed: a run on another page (a link into it) takes the link's URL.
    page: str = ""
    #: Set when this session chose a config on purpose (a preset, a family, a button): it wins.
    chosen: bool = False
    #: Why the last link's configuration was refused, and the query shown in its place (None until
    #: that run has chosen one): the reason stays on screen while that fallback is shown unchanged.
    link_error: str | None = None
    link_fallback: str | None = None

    def remember(self, config: ModelConfig, keep: int = 16) -> None:
        """The widgets show ``config`` now.

        The config, its query and the history change together, before the run writes the URL: that
        write is a point where a newer request (the user's next move) stops the run, and a run stopped
        between them left ``config`` one move behind ``synced``, so the next run took the move's
        stale URL for its own and reset the widgets (the whole move lost)."""
        self.config, self.synced = config, config.query
        self.shown = (*(q for q in self.shown if q != config.query), config.query)[-keep:]
    #: URL parameters the current page keeps for itself (not config keys).
    page_keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class DecodedUpload:
    """An uploaded picture, decoded once and kept as the square the models see: the upload's file id,
    the file's name and the picture."""

    file_id: str
    image: Any
    name: str = ""


@dataclass(frozen=True)
class KeyedModel:
    """A model with the key it was made for (config query, and a file hash or a source name)."""

    key: tuple[str, ...]
    model: ExplainableModel


@dataclass(frozen=True)
class ModelPair:
    """The Deformable page's two models: with zero offsets (before) and with learned ones (after)."""

    key: tuple[object, ...]
    before: ExplainableModel
    after: ExplainableModel


@dataclass
class Pins:
    """Queries pinned for comparison, in the order pinned."""

    queries: list[str] = field(default_factory=list)

    def add(self, query: str) -> None:
        if query not in self.queries:
            self.queries.append(query)

    def remove(self, query: str) -> None:
        self.queries = [q for q in self.queries if q != query]


URL_SYNC = Slot("architecture.url_sync", UrlSync, UrlSync)
#: The model the Saliency page explains (the Deformable page may reuse it).
SALIENCY_MODEL = Slot("saliency.model", KeyedModel)
DEFORM_MODELS = Slot("deform.models", ModelPair)
TRAINING_RUN: Slot[TrainingRun] = Slot("train.run", "explorer.analysis.training:TrainingRun")
SIGNAL_PINS = Slot("signal.pins", Pins, Pins)


@dataclass(frozen=True)
class MeasuredTimings:
    """What the Scaling lab last measured: where, how, and which (query, batch) runs."""

    device: str
    warmup: int
    repeats: int
    runs: tuple[tuple[str, int], ...]


MEASURED_TIMINGS = Slot("scaling.measured", MeasuredTimings)
#: The Build page's previous profile (the metrics show the change against it).
PREVIOUS_PROFILE = Slot("build.previous", Profile)


# -- Lessons (pages/lessons.py) --------------------------------------------------------------------
@dataclass
class LessonTally:
    """Per lesson, whether the session's last prediction before a run was right."""

    results: dict[str, bool] = field(default_factory=dict)

    def record(self, lesson: str, right: bool | None) -> None:
        """None (the run did not show the claim, nothing was judged) leaves the tally as it was."""
        if right is not None:
            self.results[lesson] = right

    @property
    def right(self) -> int:
        return sum(self.results.values())

    @property
    def answered(self) -> int:
        return len(self.results)


@dataclass(frozen=True)
class LessonRun:
    """One run of a lesson: the prediction made before it, the measured outcome and the answer."""

    lesson: str
    #: What the run depended on (the file's text, the inputs, the device): a change hides the reveal.
    key: tuple[object, ...]
    prediction: str | float
    outcome: Outcome
    truth: str | float
    #: None: the measurement did not show the claim, so the prediction was not judged.
    right: bool | None
    claim_holds: bool


@dataclass
class LessonRuns:
    runs: dict[str, LessonRun] = field(default_factory=dict)


LESSON_TALLY = Slot("lessons.tally", LessonTally, LessonTally)
LESSON_RUNS = Slot("lessons.runs", LessonRuns, LessonRuns)


# -- Scaling lab: the grid search (explorer.analysis.search) ---------------------------------------
#: The search this session started (running on a thread, or finished); the page polls its directory.
SEARCH_JOB: Slot[BackgroundSearch] = Slot("scaling.search_job", "explorer.analysis.search:BackgroundSearch")
