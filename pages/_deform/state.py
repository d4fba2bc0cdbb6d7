"""The Deformable page's widget keys (tests, browser tests and links know them)."""

from __future__ import annotations

from explorer.views.weights import WeightsSource
from pages._shared.state import Widget, Widgets


class W(Widgets, prefix="deform"):
    use_default = Widget[bool]()
    #: ``W.weights.at(has_shipped)``: the choices differ with and without a shipped model.
    weights = Widget[WeightsSource]()
    steps = Widget[int]()
    seed = Widget[int]()
    train = Widget[bool]()
    #: ``W.layer.at(query)``; ``W.row.at(layer, height)``, ``W.col.at(layer, width)``.
    layer = Widget[str]()
    row = Widget[int]()
    col = Widget[int]()
    #: The clickable "after" picture (its selection is the clicked location).
    chart = Widget[object]()
    levels = Widget[int]()
    quiver_tap = Widget["int | None"]()
    scale = Widget[float]()
    # element keys (charts keep their state, a zoom or a selection, across reruns)
    chart_before = Widget[None]()
    spread = Widget[None]()
    #: ``W.stacked.at("Before")``, ``W.stacked.at("After")``.
    stacked = Widget[None]()
    quiver = Widget[None]()
    magnitude = Widget[None]()
    mask = Widget[None]()
    bars = Widget[None]()
    #: The effective receptive field before and after (pages/_inside/field.py).
    field_before = Widget[None]()
    field_after = Widget[None]()
