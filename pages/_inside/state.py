"""The Inside page's widget keys (tests, browser tests and links know them)."""

from __future__ import annotations

from explorer.views.inside import LayerWeights
from pages._shared.state import Widget, Widgets


class W(Widgets, prefix="inside"):
    #: ``W.weights.at(choices)``: the choices differ with the config and the image.
    weights = Widget[LayerWeights]()
    #: ``W.layer.at(query)``: the layer slider of one model.
    layer = Widget[str]()
    show_all = Widget[bool]()
    #: ``W.channel.at(query, layer)``.
    channel = Widget[int]()
    opacity = Widget[float]()
    colormap = Widget[str]()
    #: ``W.field_on.at(query)``: whether the field is drawn (on by default for a light design).
    field_on = Widget[bool]()
    field_inputs = Widget[str]()
    samples = Widget[int]()
    depth = Widget[bool]()
    compare = Widget[str]()
    every_block = Widget[bool]()
    # element keys
    field_chart = Widget[None]()
    depth_chart = Widget[None]()
