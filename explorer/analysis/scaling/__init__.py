"""Compound scaling: the rule on any family (``rule``), why the built network differs from the
prediction (``rounding``), the published EfficientNets and MobileNet grid (``published``), and the
Scaling lab's pinned configs (``pins``). The rule's constants live in :mod:`explorer.compound`."""

from explorer.analysis.scaling.pins import MAX_PINS, PIN_SEPARATOR, StageComparison, compare, format_pins, parse_pins
from explorer.analysis.scaling.published import (
    MOBILENET_ALPHAS,
    MOBILENET_RESOLUTIONS,
    GridCell,
    Nearest,
    PublishedPoint,
    mobilenet_grid,
    nearest_published,
    published_efficientnets,
    series_name,
)
from explorer.analysis.scaling.rounding import Factor, RoundingExplanation, StageRounding, explain_rounding
from explorer.analysis.scaling.rule import (
    ROUNDING_BAND,
    Profiler,
    Scaled,
    StageShape,
    SweepPoint,
    phi_values,
    rule_base,
    rule_config,
    scale_config,
    stage_shapes,
    sweep,
)
from explorer.compound import PAPER_RULE, Multipliers, Rule

__all__ = [
    "MAX_PINS",
    "MOBILENET_ALPHAS",
    "MOBILENET_RESOLUTIONS",
    "PAPER_RULE",
    "PIN_SEPARATOR",
    "ROUNDING_BAND",
    "Factor",
    "GridCell",
    "Multipliers",
    "Nearest",
    "Profiler",
    "PublishedPoint",
    "RoundingExplanation",
    "Rule",
    "Scaled",
    "StageComparison",
    "StageRounding",
    "StageShape",
    "SweepPoint",
    "compare",
    "explain_rounding",
    "format_pins",
    "mobilenet_grid",
    "nearest_published",
    "parse_pins",
    "phi_values",
    "published_efficientnets",
    "rule_base",
    "rule_config",
    "scale_config",
    "series_name",
    "stage_shapes",
    "sweep",
]
