"""EfficientNet family: torchvision's EfficientNet and MBConv, scaled by the compound rule.

Tan & Le (2019): depth x alpha^phi, width x beta^phi, resolution x gamma^phi, with
alpha * beta^2 * gamma^2 ~ 2 so that cost grows ~2^phi. torchvision rounds each stage's layer
count up (ceil) and channels to multiples of 8. The published B1-B7 use hand-picked multipliers,
so their presets set ``width_mult``, ``depth_mult`` and ``resolution`` explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from torchvision.models.efficientnet import EfficientNet, _efficientnet_conf

from explorer.config import ModelConfig, knob, register_family, register_preset
from explorer.families.base import BuiltModel, Stage, register_builder, replace_first_conv_in_channels


@register_family
@dataclass(frozen=True, kw_only=True)
class EfficientNetConfig(ModelConfig):
    family: ClassVar[str] = "efficientnet"
    title: ClassVar[str] = "EfficientNet"
    resolution_rule: ClassVar[str] = "224 x gamma^phi, rounded"

    phi: float = knob(
        0.0, "float", "compound coefficient: how many doublings of cost over B0", minimum=0.0, maximum=8.0, step=0.5
    )
    alpha: float = knob(1.2, "float", "depth base: layers x alpha^phi", minimum=1.0, maximum=2.0, step=0.05)
    beta: float = knob(1.1, "float", "width base: channels x beta^phi", minimum=1.0, maximum=2.0, step=0.05)
    gamma: float = knob(1.15, "float", "resolution base: pixels x gamma^phi", minimum=1.0, maximum=2.0, step=0.05)
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
        return self.alpha * self.beta**2 * self.gamma**2


@register_builder(EfficientNetConfig)
def build_efficientnet(cfg: EfficientNetConfig) -> BuiltModel:  # type: ignore[override]
    setting, last_channel = _efficientnet_conf("efficientnet_b0", width_mult=cfg.width, depth_mult=cfg.depth)
    model = EfficientNet(setting, dropout=0.2, num_classes=cfg.classes, last_channel=last_channel)
    replace_first_conv_in_channels(model, cfg.in_channels)
    last = len(model.features) - 1
    stages = [Stage("stem", ("features.0",))]
    for i in range(1, last):
        blocks = tuple(f"features.{i}.{j}" for j in range(len(model.features[i])))
        stages.append(Stage(f"stage{i}", (f"features.{i}",), blocks))
    stages.append(Stage("head", (f"features.{last}", "avgpool", "classifier")))
    return BuiltModel(cfg, model, tuple(stages))


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
