"""EfficientNet family: torchvision's EfficientNet and MBConv, scaled by the compound rule.

Tan & Le (2019): depth x alpha^phi, width x beta^phi, resolution x gamma^phi, with
alpha * beta^2 * gamma^2 ~ 2 so that cost grows ~2^phi. torchvision rounds each stage's layer
count up (ceil) and channels to multiples of 8. The published B1-B7 use hand-picked multipliers,
so their presets set ``width_mult``, ``depth_mult`` and ``resolution`` explicitly.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar

from explorer.compound import (
    COEFFICIENT_RANGE,
    PAPER_ALPHA,
    PAPER_BETA,
    PAPER_GAMMA,
    PHI_RANGE,
    CompoundConfig,
    KnobScaling,
    Multipliers,
    Rule,
    clamp,
    flops_ratio,
    rounded,
)
from explorer.config import ModelConfig, knob, register_family, register_preset

_COEFFICIENT: dict[str, Any] = {"minimum": COEFFICIENT_RANGE[0], "maximum": COEFFICIENT_RANGE[1], "step": 0.05}


@register_family
@dataclass(frozen=True, kw_only=True)
class EfficientNetConfig(ModelConfig):
    family: ClassVar[str] = "efficientnet"
    title: ClassVar[str] = "EfficientNet"
    resolution_rule: ClassVar[str] = "224 x gamma^phi, rounded"

    phi: float = knob(
        0.0,
        "float",
        "compound coefficient: how many doublings of cost over B0",
        minimum=PHI_RANGE[0],
        maximum=PHI_RANGE[1],
        step=0.5,
    )
    alpha: float = knob(PAPER_ALPHA, "float", "depth base: layers x alpha^phi", **_COEFFICIENT)
    beta: float = knob(PAPER_BETA, "float", "width base: channels x beta^phi", **_COEFFICIENT)
    gamma: float = knob(PAPER_GAMMA, "float", "resolution base: pixels x gamma^phi", **_COEFFICIENT)
    width_mult: float | None = knob(
        None, "float", "channel multiplier (overrides beta^phi)", minimum=0.1, maximum=8.0, step=0.1, derived="beta^phi"
    )
    depth_mult: float | None = knob(
        None, "float", "layer multiplier (overrides alpha^phi)", minimum=0.1, maximum=8.0, step=0.1, derived="alpha^phi"
    )

    @property
    def width(self) -> float:
        return self.width_mult if self.width_mult is not None else self.beta**self.phi

    @property
    def depth(self) -> float:
        return self.depth_mult if self.depth_mult is not None else self.alpha**self.phi

    def derived_values(self) -> dict[str, Any]:
        return super().derived_values() | {"width_mult": self.width, "depth_mult": self.depth}

    def derived_resolution(self) -> int:
        """224 x gamma^phi, rounded to the nearest pixel (the paper gives no rounding rule)."""
        return min(1024, round(224 * self.gamma**self.phi))

    @property
    def flops_ratio(self) -> float:
        """alpha * beta^2 * gamma^2: the cost factor per unit of phi (the paper sets it to ~2)."""
        return flops_ratio(self.alpha, self.beta, self.gamma)

    # -- scaling: multiply the builder's own multipliers; the builder rounds per stage ---------------
    def scale_knobs(self, m: Multipliers) -> KnobScaling:
        depth_mult = rounded(clamp(self.depth * m.depth, 0.1, 8.0))
        width_mult = rounded(clamp(self.width * m.width, 0.1, 8.0))
        notes = (
            "depth: each stage's block count x depth_mult, rounded up (ceil) by the builder",
            "width: each stage's channels x width_mult, rounded to a multiple of 8 (make_divisible)",
        )
        changes: dict[str, Any] = {}  # an unscaled multiplier stays as it was (auto stays auto)
        if m.depth != 1.0 or self.depth_mult is not None:
            changes["depth_mult"] = depth_mult
        if m.width != 1.0 or self.width_mult is not None:
            changes["width_mult"] = width_mult
        return KnobScaling(changes, depth_mult / self.depth, width_mult / self.width, notes if changes else ())

    def depth_rounding(self) -> str:
        return "each stage rounded up"

    def rule_start(self) -> EfficientNetConfig:
        """B0 with this config's coefficients (overrides removed)."""
        return dataclasses.replace(self, phi=0.0, width_mult=None, depth_mult=None, resolution=None)

    def own_rule(self) -> tuple[Rule, float]:
        return Rule(self.alpha, self.beta, self.gamma), self.phi

    def compound_config(self, rule: Rule, phi: float) -> CompoundConfig:
        """The rule at ``phi`` in EfficientNet's own keys (``family=efficientnet&phi=3&beta=1.2``)."""
        start = self.rule_start()
        config = dataclasses.replace(start, phi=float(phi), alpha=rule.alpha, beta=rule.beta, gamma=rule.gamma)
        achieved = Multipliers(config.depth, config.width, config.input_resolution / start.input_resolution)
        notes = (
            "depth: each stage's block count x alpha^phi, rounded up (ceil) by torchvision",
            "width: each stage's channels x beta^phi, rounded to a multiple of 8 (make_divisible)",
            "resolution: 224 x gamma^phi, rounded to the nearest pixel",
        )
        return CompoundConfig(config, achieved, notes)


#: torchvision's published (width, depth, resolution) per model.
PUBLISHED = {
    "b0": (1.0, 1.0, 224),
    "b1": (1.0, 1.1, 240),
    "b2": (1.1, 1.2, 288),
    "b3": (1.2, 1.4, 300),
    "b4": (1.4, 1.8, 380),
    "b5": (1.6, 2.2, 456),
    "b6": (1.8, 2.6, 528),
    "b7": (2.0, 3.1, 600),
}
register_preset("efficientnet_b0", "family=efficientnet")
for _name, (_w, _d, _r) in list(PUBLISHED.items())[1:]:
    register_preset(f"efficientnet_{_name}", f"family=efficientnet&width_mult={_w}&depth_mult={_d}&resolution={_r}")
