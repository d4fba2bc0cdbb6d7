"""What-if compound scaling: EfficientNet's rule applied to any family, what it predicts and what
it builds.

The rule (Tan & Le, 2019; constants in :mod:`explorer.compound`): for a compound coefficient phi,
depth x alpha^phi, width x beta^phi and input side x gamma^phi. MACs grow as depth x width^2 x
side^2, so the rule predicts MACs(phi) = MACs(0) x (alpha * beta^2 * gamma^2)^phi; parameters do not
depend on the input side, so it predicts params(phi) = params(0) x (alpha * beta^2)^phi.

Each family says how its knobs carry depth and width (``ModelConfig.scale_knobs``); this module
scales the input side the same way for all, builds the curve and measures it. Why the built network
differs from the prediction is :mod:`explorer.analysis.scaling.rounding`.

Everything here takes configs and returns plain data. Every function that needs parameter and MAC
counts takes a ``profiler`` (default :func:`explorer.measure.profile.profile`) so a page can pass its
cached one. Counting convention: that of :mod:`explorer.measure.profile` (MACs at batch 1).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from explorer.compound import Multipliers, Rule, clamp
from explorer.knobs import ModelConfig
from explorer.measure.profile import Profile, profile

Profiler = Callable[[ModelConfig], Profile]

#: Measured / predicted MACs for EfficientNet-B0 scaled with the paper's coefficients lies in this
#: band for every phi from 0.5 to 6 (measured: 1.04 to 1.37; largest at small phi, where the
#: per-stage ceil of depth adds the most, e.g. 23 blocks for 19.2 at phi=1).
ROUNDING_BAND = (1.0, 1.4)


# -- scaling any family ------------------------------------------------------------------------
@dataclass(frozen=True)
class Scaled:
    """A config scaled by multipliers, with what was done and what could not be done.

    achieved: the multipliers the config's knobs actually carry (nearest allowed depth, whole
    channels, whole pixels); rounding inside the builder (ceil per stage, make_divisible) is
    not in here but in :func:`stage_shapes` of the built network.
    """

    config: ModelConfig
    requested: Multipliers
    achieved: Multipliers
    notes: tuple[str, ...] = ()
    #: Names of the multipliers (depth, width, resolution) the family has no knob for.
    unapplied: tuple[str, ...] = ()


def _side(base: ModelConfig, m: Multipliers, notes: list[str]) -> tuple[int, float]:
    side0 = base.input_resolution
    want = side0 * m.resolution
    side = int(clamp(round(want), max(base.min_resolution, 8), 1024))
    if m.resolution != 1.0 and side != round(want):
        notes.append(f"resolution: {want:.0f} px is outside the allowed range; used {side} px")
    return side, side / side0


def scale_config(base: ModelConfig, m: Multipliers) -> Scaled:
    """``base`` with depth x ``m.depth``, width x ``m.width`` and input side x ``m.resolution``.

    The input side is scaled here, the same way for every family (rounded to a pixel, clamped to
    the allowed range with a note); depth and width are the family's business: its config's
    ``scale_knobs`` says which knobs carry them and how they round (EfficientNet multiplies
    ``depth_mult``/``width_mult``, ResNet takes the nearest standard depth, DenseNet rounds each
    block up and multiplies k, the MobileNets multiply alpha and have no depth knob, ...). A family
    without a rule scales the resolution only and says so. Raises ConfigError if the scaled config
    is not valid.
    """
    notes: list[str] = []
    side, achieved_r = _side(base, m, notes)
    changes: dict[str, Any] = {}
    if m.resolution != 1.0 or base.resolution is not None:
        changes["resolution"] = side
    knobs = base.scale_knobs(m)
    config = dataclasses.replace(base, **changes, **knobs.changes)
    achieved = Multipliers(knobs.depth, knobs.width, achieved_r)
    return Scaled(config, m, achieved, (*knobs.notes, *notes), knobs.unapplied)


def rule_base(config: ModelConfig) -> ModelConfig:
    """The phi=0 network a scaling curve starts from (the config's ``rule_start``: for EfficientNet,
    B0 with the config's coefficients; for any other family, the config itself)."""
    return config.rule_start()


def rule_config(base: ModelConfig, rule: Rule, phi: float) -> Scaled:
    """The network of the rule at ``phi``: a family with its own rule keys (EfficientNet, so the
    query reads ``family=efficientnet&phi=3&beta=1.2``) builds it itself (``compound_config``);
    other families go through :func:`scale_config` with ``rule.multipliers(phi)``."""
    own = base.compound_config(rule, phi)
    if own is not None:
        return Scaled(own.config, rule.multipliers(phi), own.achieved, own.notes)
    return scale_config(base, rule.multipliers(phi))


# -- structure per stage -------------------------------------------------------------------------
@dataclass(frozen=True)
class StageShape:
    """One stage of a built network: repeated blocks, output channels and output side."""

    name: str
    blocks: int
    channels: int
    side: int
    params: int
    macs: int


def stage_shapes(result: Profile) -> tuple[StageShape, ...]:
    """Per stage (from the builder's structure, in order): blocks = distinct blocks the stage's
    layers belong to; channels and side = the stage's last 4-D output (C, H of N x C x H x W)."""
    order: list[str] = []
    blocks: dict[str, set[str]] = {}
    out: dict[str, tuple[int, int]] = {}
    params: dict[str, int] = {}
    macs: dict[str, int] = {}
    for row in result.layers:
        if row.stage not in blocks:
            order.append(row.stage)
            blocks[row.stage] = set()
            params[row.stage] = macs[row.stage] = 0
        if row.block is not None:
            blocks[row.stage].add(row.block)
        if len(row.output_shape) == 4:
            out[row.stage] = (row.output_shape[1], row.output_shape[2])
        params[row.stage] += row.params
        macs[row.stage] += row.macs
    return tuple(
        StageShape(s, len(blocks[s]), out.get(s, (0, 0))[0], out.get(s, (0, 0))[1], params[s], macs[s]) for s in order
    )


# -- the curve ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class SweepPoint:
    phi: float
    query: str
    requested: Multipliers
    achieved: Multipliers
    resolution: int
    params: int
    macs: int
    #: MACs(phi=0) x (alpha beta^2 gamma^2)^phi: the rule's prediction with these coefficients.
    predicted_macs: float
    #: MACs(phi=0) x 2^phi: the paper's round-number approximation.
    nominal_macs: float
    #: params(phi=0) x (alpha beta^2)^phi.
    predicted_params: float
    stages: tuple[StageShape, ...] = field(repr=False)
    notes: tuple[str, ...] = ()
    unapplied: tuple[str, ...] = ()

    @property
    def macs_vs_rule(self) -> float:
        return self.macs / self.predicted_macs

    @property
    def params_vs_rule(self) -> float:
        return self.params / self.predicted_params


def phi_values(max_phi: float, current: float | None = None, step: float = 1.0) -> tuple[float, ...]:
    """0, step, 2 step, ... up to ``max_phi``, plus ``current`` if it falls between."""
    count = math.floor(max_phi / step + 1e-9)
    values = {round(i * step, 6) for i in range(count + 1)}
    if current is not None and current >= 0:
        values.add(round(current, 6))
    return tuple(sorted(values))


def sweep(base: ModelConfig, rule: Rule, phis: Sequence[float], profiler: Profiler = profile) -> list[SweepPoint]:
    """The rule's network for each phi (which should include 0, the reference of the predictions)."""
    start = profiler(rule_config(base, rule, 0.0).config)
    points = []
    for phi in phis:
        scaled = rule_config(base, rule, phi)
        result = start if phi == 0 else profiler(scaled.config)
        points.append(
            SweepPoint(
                phi=float(phi),
                query=result.query,
                requested=scaled.requested,
                achieved=scaled.achieved,
                resolution=result.resolution,
                params=result.params,
                macs=result.macs,
                predicted_macs=start.macs * rule.predicted_macs_factor(phi),
                nominal_macs=start.macs * 2.0**phi,
                predicted_params=start.params * rule.params_ratio**phi,
                stages=stage_shapes(result),
                notes=scaled.notes,
                unapplied=scaled.unapplied,
            )
        )
    return points
