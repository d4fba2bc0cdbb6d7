"""The Signal flow page's widget keys (tests, browser tests and links know them)."""

from __future__ import annotations

from explorer.analysis.signal import Statistics
from pages._shared.state import Widget, Widgets


class S(Widgets, prefix="signal"):
    """The probe and its comparison."""

    experiment = Widget[bool]()
    resolution = Widget[int]()
    batch = Widget[int]()
    seed = Widget[int]()
    mode = Widget[Statistics]()
    metrics = Widget[list[str]]()
    variants = Widget[list[str]]()
    add = Widget[str]()
    add_error = Widget["str | None"]()
    #: One Remove button per pinned query: ``S.unpin.at(query)``.
    unpin = Widget[bool]()
    #: One chart per metric: ``S.chart.at(metric)``.
    chart = Widget[None]()


class T(Widgets, prefix="train"):
    """Train and watch."""

    optimizer = Widget[str]()
    lr = Widget[float]()
    steps = Widget[int]()
    batch = Widget[int]()
    every = Widget[int]()
    warm = Widget[bool]()
    rotate = Widget[bool]()
    start = Widget[bool]()
    stop = Widget[bool]()
    #: The scrubber; its charts are ``T.scrub.at(metric)``.
    scrub = Widget[int]()
    #: Charts: the kept run's loss, and while a run goes ``T.live_loss.at(step)``, ``T.live_curves.at(step)``.
    loss = Widget[None]()
    live_loss = Widget[None]()
    live_curves = Widget[None]()
    #: Set by Train's callback: a flag survives a rerun that comes before the script sees the click.
    requested = Widget[bool]()
    #: Whether the last run of the page drew the Stop button (the run starts only once it has).
    stop_drawn = Widget[bool]()
