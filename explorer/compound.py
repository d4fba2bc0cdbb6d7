"""EfficientNet's compound rule and the multipliers every family scales by: the one place for the
rule's constants, shared by the EfficientNet family's knobs, the scaling analysis, the Scaling lab
page and the ``scaling`` command. Torch-free, so configs can depend on it.

The rule (Tan & Le, 2019): for a compound coefficient phi, depth x alpha^phi, width x beta^phi and
input side x gamma^phi. MACs grow as depth x width^2 x side^2, so the rule predicts a MACs factor of
(alpha * beta^2 * gamma^2)^phi; the paper picks alpha=1.2, beta=1.1, gamma=1.15 (1.92 ~ 2).

How a family carries depth and width multipliers into its own knobs is the family's business: each
config class implements ``scale_knobs(m) -> KnobScaling`` (see :class:`explorer.knobs.ModelConfig`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

#: The paper's coefficients and the ranges the explorer lets them take.
PAPER_ALPHA, PAPER_BETA, PAPER_GAMMA = 1.2, 1.1, 1.15
COEFFICIENT_RANGE = (1.0, 2.0)
PHI_RANGE = (0.0, 8.0)
#: The constraint the paper puts on alpha * beta^2 * gamma^2 ("cost doubles per unit of phi").
TARGET_FLOPS_RATIO = 2.0


def flops_ratio(alpha: float, beta: float, gamma: float) -> float:
    """alpha * beta^2 * gamma^2: the MACs factor per unit of phi."""
    return alpha * beta**2 * gamma**2


@dataclass(frozen=True)
class Multipliers:
    """Depth, width and input-side multipliers (1, 1, 1 leaves a network as it is)."""

    depth: float = 1.0
    width: float = 1.0
    resolution: float = 1.0


@dataclass(frozen=True)
class Rule:
    """Compound-scaling coefficients (the paper's by default)."""

    alpha: float = PAPER_ALPHA
    beta: float = PAPER_BETA
    gamma: float = PAPER_GAMMA

    @property
    def flops_ratio(self) -> float:
        """alpha * beta^2 * gamma^2: MACs factor per unit of phi (the paper asks for ~2)."""
        return flops_ratio(self.alpha, self.beta, self.gamma)

    @property
    def params_ratio(self) -> float:
        """alpha * beta^2: parameters factor per unit of phi (the input side adds no parameters)."""
        return self.alpha * self.beta**2

    @property
    def deviation(self) -> float:
        """flops_ratio - 2: how far the coefficients are from the paper's constraint."""
        return self.flops_ratio - TARGET_FLOPS_RATIO

    def multipliers(self, phi: float) -> Multipliers:
        return Multipliers(self.alpha**phi, self.beta**phi, self.gamma**phi)

    def predicted_macs_factor(self, phi: float) -> float:
        return self.flops_ratio**phi

    def nominal_phi(self, m: Multipliers) -> float:
        """The phi at which this rule predicts the same MACs as multipliers ``m``:
        log(d * w^2 * r^2) / log(alpha * beta^2 * gamma^2). (B3's own 1.4/1.2/300 px is ~1.97.)"""
        if self.flops_ratio <= 1.0:
            return math.nan
        return math.log(m.depth * m.width**2 * m.resolution**2) / math.log(self.flops_ratio)


PAPER_RULE = Rule()


@dataclass(frozen=True)
class KnobScaling:
    """How a family carries depth and width multipliers into its knobs.

    ``changes``: the knob values to set; ``depth`` / ``width``: the multipliers those knobs
    actually carry (nearest allowed depth, whole channels); ``notes``: what was rounded and how,
    for people; ``unapplied``: the multipliers (``"depth"``, ``"width"``) the family has no knob for.
    """

    changes: dict[str, Any] = field(default_factory=dict)
    depth: float = 1.0
    width: float = 1.0
    notes: tuple[str, ...] = ()
    unapplied: tuple[str, ...] = ()


def rounded(x: float) -> float:
    """A multiplier rounded to 6 decimals: readable queries, no float noise at ceil() boundaries."""
    return round(x, 6)


def clamp(x: float, lo: float, hi: float) -> float:
    return min(hi, max(lo, x))


def nearest(values: Iterable[float], target: float) -> float:
    """The value nearest to ``target`` in ratio (log distance); the smaller one on a tie."""
    return min(sorted(values), key=lambda v: abs(math.log(v / target)))


def not_scaled(family: str, m: Multipliers, names: Iterable[str] = ("depth", "width"), why: str = "") -> KnobScaling:
    """Leave ``names`` as they are and say so (a family without a knob for them)."""
    notes, unapplied = [], []
    for name in names:
        value = getattr(m, name)
        if value != 1.0:
            unapplied.append(name)
            notes.append(f"{name}: {why or f'no scaling rule for family {family}'}; x{value:.3g} not applied")
    return KnobScaling(notes=tuple(notes), unapplied=tuple(unapplied))


@dataclass(frozen=True)
class CompoundConfig:
    """A family's own config at some phi (families with compound-rule keys), the multipliers it
    carries and what its builder rounds."""

    config: Any
    achieved: Multipliers
    notes: tuple[str, ...] = ()
