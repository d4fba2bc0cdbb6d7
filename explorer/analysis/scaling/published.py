"""The published points of the scaling story: torchvision's EfficientNet-B0 to B7 (hand-picked
multipliers, measured), or EfficientNet-Lite0 to Lite4 for a Lite design, and MobileNetV1's width x
resolution grid (the paper's Tables 6 and 7)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from explorer.analysis.scaling.rule import Profiler, StageShape, stage_shapes
from explorer.compound import PAPER_RULE, Multipliers, Rule
from explorer.config import preset_config
from explorer.families.efficientnet import LITE_PUBLISHED, PUBLISHED
from explorer.families.mobilenet import MobileNetV1Config
from explorer.measure.profile import Profile, profile

#: The MobileNetV1 paper's width multipliers (Table 6) and resolutions (Table 7).
MOBILENET_ALPHAS = (1.0, 0.75, 0.5, 0.25)
MOBILENET_RESOLUTIONS = (224, 192, 160, 128)


# -- published EfficientNets and the MobileNetV1 grid ---------------------------------------------
@dataclass(frozen=True)
class PublishedPoint:
    """A published EfficientNet (B0-B7, or Lite0-Lite4) with its own hand-picked multipliers, measured."""

    name: str
    preset: str
    multipliers: Multipliers
    resolution: int
    #: The phi at which the rule predicts this model's MACs from its multipliers (Rule.nominal_phi).
    nominal_phi: float
    params: int
    macs: int
    stages: tuple[StageShape, ...] = field(repr=False)


def published_efficientnets(
    rule: Rule = PAPER_RULE, profiler: Profiler = profile, lite: bool = False
) -> list[PublishedPoint]:
    """B0-B7 with torchvision's (width, depth, resolution), their nominal phi under ``rule``; with
    ``lite``, Lite0-Lite4 with Google's (a Lite design is compared with its own family: fixed stem
    and head make a Lite model cheaper than the B model of the same multipliers)."""
    points = []
    for name, (width, depth, resolution) in (LITE_PUBLISHED if lite else PUBLISHED).items():
        preset = f"efficientnet_{name}"
        result = profiler(preset_config(preset))
        m = Multipliers(depth, width, resolution / 224)
        points.append(
            PublishedPoint(
                name=f"Lite{name[4:]}" if lite else f"B{name[1:]}",
                preset=preset,
                multipliers=m,
                resolution=resolution,
                nominal_phi=rule.nominal_phi(m),
                params=result.params,
                macs=result.macs,
                stages=stage_shapes(result),
            )
        )
    return points


def series_name(points: Sequence[PublishedPoint]) -> str:
    """Whose models ``points`` are, in a legend's words: "torchvision's B0-B7" or "Google's Lite0-Lite4"."""
    if not points:
        return "published models"
    whose = "Google's" if points[0].name.startswith("Lite") else "torchvision's"
    return f"{whose} {points[0].name}-{points[-1].name}"


@dataclass(frozen=True)
class Nearest:
    name: str
    params_ratio: float
    macs_ratio: float


def nearest_published(result: Profile, points: Sequence[PublishedPoint]) -> Nearest:
    """The published point nearest in (log params, log MACs), and this design's ratios to it."""
    best = min(
        points,
        key=lambda p: math.log(result.params / p.params) ** 2 + math.log(result.macs / p.macs) ** 2,
    )
    return Nearest(best.name, result.params / best.params, result.macs / best.macs)


@dataclass(frozen=True)
class GridCell:
    alpha: float
    resolution: int
    query: str
    params: int
    macs: int


def mobilenet_grid(
    alphas: Sequence[float] = MOBILENET_ALPHAS,
    resolutions: Sequence[int] = MOBILENET_RESOLUTIONS,
    profiler: Profiler = profile,
) -> list[GridCell]:
    """MobileNetV1 at every width multiplier x resolution (the paper's Tables 6 and 7 as one grid)."""
    cells = []
    for alpha in alphas:
        for resolution in resolutions:
            config = MobileNetV1Config(alpha=float(alpha), resolution=int(resolution))
            result = profiler(config)
            cells.append(GridCell(float(alpha), int(resolution), result.query, result.params, result.macs))
    return cells
