"""Why a scaled network's measured MACs differ from the rule's prediction: rounding, measured.

A built network differs from the prediction because of rounding, which this module measures rather
than guesses (:func:`explain_rounding`):

* depth: torchvision rounds each stage's block count *up* (``ceil(n * d)``), so a 7-stage B0 scaled by
  1.2 has 23 blocks, not 16 x 1.2 = 19.2; families with fixed layouts (ResNet) take the nearest
  standard depth instead (each family says how: ``ModelConfig.depth_rounding``);
* width: ``make_divisible`` rounds every stage's channels to a multiple of 8 (never below 90%), and
  depthwise convolutions and squeeze-excitation grow as width, not width^2;
* resolution: the side is rounded to a pixel, and every stride-2 layer rounds its output side up
  (``ceil(side / 2)``), so at 258 px EfficientNet's last maps are 9x9 where 7 x 1.15 = 8.05.

Each cause is isolated by building the network with only that multiplier applied; the four factors
(depth, width, resolution and their interaction) multiply exactly to measured / predicted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from explorer.analysis.scaling.rule import Profiler, rule_config, scale_config, stage_shapes
from explorer.compound import Multipliers, Rule
from explorer.knobs import ModelConfig
from explorer.measure.profile import profile


# -- why measured differs from predicted ---------------------------------------------------------
@dataclass(frozen=True)
class Factor:
    """One cause: the MACs factor the rule expects from it alone, and the one measured."""

    name: str
    expected: float
    measured: float
    sentence: str

    @property
    def ratio(self) -> float:
        return self.measured / self.expected


@dataclass(frozen=True)
class StageRounding:
    """One stage, base vs scaled: ideal (base x multiplier) and built blocks, channels and side."""

    name: str
    base_blocks: int
    ideal_blocks: float
    blocks: int
    base_channels: int
    ideal_channels: float
    channels: int
    base_side: int
    ideal_side: float
    side: int


@dataclass(frozen=True)
class RoundingExplanation:
    phi: float
    query: str
    macs: int
    predicted_macs: float
    factors: tuple[Factor, ...]
    stages: tuple[StageRounding, ...]
    notes: tuple[str, ...] = ()

    @property
    def ratio(self) -> float:
        """measured / predicted; equals the product of the factors' ratios."""
        return self.macs / self.predicted_macs


def explain_rounding(
    base: ModelConfig, rule: Rule, phi: float, profiler: Profiler = profile
) -> RoundingExplanation:
    """Split measured / predicted MACs at ``phi`` into depth, width, resolution and interaction.

    Each of the first three is the MACs of the phi=0 network with only that multiplier applied,
    divided by MACs(0) and by what the rule expects from it (alpha^phi, beta^(2 phi), gamma^(2 phi));
    the interaction is what remains, so the four ratios multiply exactly to measured / predicted.
    """
    start_cfg = rule_config(base, rule, 0.0).config
    scaled = rule_config(base, rule, phi)
    m = scaled.requested
    start, full = profiler(start_cfg), profiler(scaled.config)
    alone = {
        "depth": profiler(scale_config(start_cfg, Multipliers(m.depth, 1.0, 1.0)).config),
        "width": profiler(scale_config(start_cfg, Multipliers(1.0, m.width, 1.0)).config),
        "resolution": profiler(scale_config(start_cfg, Multipliers(1.0, 1.0, m.resolution)).config),
    }
    expected = {"depth": m.depth, "width": m.width**2, "resolution": m.resolution**2}
    s0, s1 = stage_shapes(start), stage_shapes(full)
    rows = tuple(
        StageRounding(
            name=a.name,
            base_blocks=a.blocks,
            ideal_blocks=a.blocks * m.depth,
            blocks=b.blocks,
            base_channels=a.channels,
            ideal_channels=a.channels * m.width,
            channels=b.channels,
            base_side=a.side,
            ideal_side=a.side * m.resolution,
            side=b.side,
        )
        for a, b in zip(s0, s1, strict=False)
        if a.name == b.name
    )
    measured = {k: alone[k].macs / start.macs for k in alone}
    body = [r for r in rows if r.base_blocks > 0]
    total0 = sum(r.base_blocks for r in body)
    total1 = sum(r.blocks for r in body)
    unapplied = set(scaled.unapplied)
    sentences = {
        "depth": (
            f"Depth was not applied ({base.title} has no depth knob), so this factor is 1/{m.depth:.3f}."
            if "depth" in unapplied
            else f"{total0} blocks x {m.depth:.3f} = {total0 * m.depth:.1f} ideally; the network has {total1} "
            f"({base.depth_rounding()}). Depth alone multiplies MACs by {measured['depth']:.3f}, the rule expects "
            f"{expected['depth']:.3f} (stem and head do not repeat)."
        ),
        "width": (
            f"Width was not applied ({base.title} has no width knob), so this factor is 1/{m.width**2:.3f}."
            if "width" in unapplied
            else f"Channels x {m.width:.3f}, then rounded to whole channels (multiples of 8 where make_divisible "
            f"applies). Width alone multiplies MACs by {measured['width']:.3f}, the rule expects width^2 = "
            f"{expected['width']:.3f}; rounding moves it either way, and layers whose cost grows only linearly in "
            f"width (depthwise convs and squeeze-excitation where present, the stem's 3 input channels, the "
            f"classifier's fixed outputs) pull it below width^2."
        ),
        "resolution": (
            f"{start.resolution} px x {m.resolution:.3f} = {start.resolution * m.resolution:.1f} -> "
            f"{full.resolution} px; "
            f"every stride-2 layer rounds its output side up, so the last maps are "
            f"{s1[-2].side if len(s1) > 1 else full.resolution} px where {s0[-2].side if len(s0) > 1 else 0} x "
            f"{m.resolution:.3f} = {(s0[-2].side if len(s0) > 1 else 0) * m.resolution:.2f}. Resolution alone "
            f"multiplies MACs by {measured['resolution']:.3f}, the rule expects gamma^(2 phi) = "
            f"{expected['resolution']:.3f}."
        ),
    }
    factors = [Factor(k, expected[k], measured[k], sentences[k]) for k in ("depth", "width", "resolution")]
    predicted = start.macs * rule.predicted_macs_factor(phi)
    separate = math.prod(f.ratio for f in factors)
    interaction = (full.macs / predicted) / separate
    factors.append(
        Factor(
            "interaction",
            1.0,
            interaction,
            "What the three together do beyond their product: extra blocks are also wider and see larger "
            f"maps, and rounding is applied to the combined values ({interaction:.3f}).",
        )
    )
    return RoundingExplanation(float(phi), full.query, full.macs, predicted, tuple(factors), rows, scaled.notes)
