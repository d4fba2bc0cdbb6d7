"""MobileNet families. V2 and V3 are torchvision's classes; V1 is written here because
torchvision has none (Howard et al., 2017: a 3x3 conv, 13 depthwise-separable layers, pool, FC)."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor, nn
from torchvision.models.mobilenetv2 import MobileNetV2
from torchvision.models.mobilenetv3 import MobileNetV3, _mobilenet_v3_conf
from torchvision.ops.misc import Conv2dNormActivation

from explorer.compound import KnobScaling, Multipliers, clamp, not_scaled, rounded
from explorer.config import ModelConfig, knob, register_family, register_preset
from explorer.families.base import BuiltModel, Stage, register_builder, replace_first_conv_in_channels
from explorer.families.rounding import make_divisible


def _alpha_knob() -> float:
    return knob(
        1.0,
        "float",
        "width multiplier: every layer's channels x alpha (rounded to a multiple of 8)",
        minimum=0.1,
        maximum=3.0,
        step=0.05,
    )


class _WidthMultiplied(ModelConfig):
    """The MobileNets scale by their width multiplier alpha; their layer lists are fixed."""

    alpha: float

    def scale_knobs(self, m: Multipliers) -> KnobScaling:
        alpha = rounded(clamp(self.alpha * m.width, 0.1, 3.0))
        fixed = not_scaled(
            self.family, m, ("depth",), f"{self.title} has a fixed layer list (no depth knob)"
        )
        notes = fixed.notes
        if m.width != 1.0:
            notes += (f"width: alpha {self.alpha:g} x {m.width:.3g} = {alpha:g}; channels rounded to multiples of 8",)
        return KnobScaling({"alpha": alpha}, 1.0, alpha / self.alpha, notes, fixed.unapplied)


@register_family
@dataclass(frozen=True, kw_only=True)
class MobileNetV1Config(_WidthMultiplied):
    family: ClassVar[str] = "mobilenet_v1"
    title: ClassVar[str] = "MobileNet V1"
    alpha: float = _alpha_knob()


@register_family
@dataclass(frozen=True, kw_only=True)
class MobileNetV2Config(_WidthMultiplied):
    family: ClassVar[str] = "mobilenet_v2"
    title: ClassVar[str] = "MobileNet V2"
    alpha: float = _alpha_knob()


@register_family
@dataclass(frozen=True, kw_only=True)
class MobileNetV3Config(_WidthMultiplied):
    family: ClassVar[str] = "mobilenet_v3"
    title: ClassVar[str] = "MobileNet V3"
    size: str = knob("large", "choice", "the paper's Large or Small network", choices=("large", "small"))
    alpha: float = _alpha_knob()


#: MobileNetV1 body (Table 1 of the paper): output channels and stride of each separable layer.
V1_LAYERS: tuple[tuple[int, int], ...] = (
    (64, 1),
    (128, 2),
    (128, 1),
    (256, 2),
    (256, 1),
    (512, 2),
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),
    (1024, 2),
    (1024, 1),
)


class DepthwiseSeparable(nn.Sequential):
    """3x3 depthwise conv-BN-ReLU, then 1x1 pointwise conv-BN-ReLU."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__(
            OrderedDict(
                dw=Conv2dNormActivation(in_channels, in_channels, 3, stride, groups=in_channels),
                pw=Conv2dNormActivation(in_channels, out_channels, 1),
            )
        )


class MobileNetV1(nn.Module):
    def __init__(self, alpha: float = 1.0, num_classes: int = 1000) -> None:
        super().__init__()
        channels = make_divisible(32 * alpha, 8)
        layers: list[nn.Module] = [Conv2dNormActivation(3, channels, 3, 2)]
        for out, stride in V1_LAYERS:
            out = make_divisible(out * alpha, 8)
            layers.append(DepthwiseSeparable(channels, out, stride))
            channels = out
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(channels, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def _stages_by_stride(features: nn.Sequential, strides: list[int], prefix: str = "features") -> list[Stage]:
    """Group ``features[1:-1]`` into stages: a block of stride 2 starts a new stage."""
    stages: list[list[str]] = []
    for index, stride in zip(range(1, len(features) - 1), strides, strict=True):
        if stride == 2 or not stages:
            stages.append([])
        stages[-1].append(f"{prefix}.{index}")
    return [Stage(f"stage{i}", tuple(names), tuple(names)) for i, names in enumerate(stages, start=1)]


def _first_stride(block: nn.Module) -> int:
    for m in block.modules():
        if isinstance(m, nn.Conv2d) and m.stride != (1, 1):
            return m.stride[0]
    return 1


def _mobile_stages(model: nn.Module) -> tuple[Stage, ...]:
    """V2/V3 layout: features[0] is the stem, features[-1] the final 1x1 conv of the head.
    (V2 pools with a function, so only V3 has an ``avgpool`` module to list.)"""
    features = model.features
    last = len(features) - 1
    strides = [_first_stride(features[i]) for i in range(1, last)]
    head = (f"features.{last}", *(name for name in ("avgpool", "classifier") if hasattr(model, name)))
    return (
        Stage("stem", ("features.0",)),
        *_stages_by_stride(features, strides),
        Stage("head", head),
    )


@register_builder(MobileNetV1Config)
def build_mobilenet_v1(cfg: MobileNetV1Config) -> BuiltModel:  # type: ignore[override]
    model = MobileNetV1(cfg.alpha, cfg.classes)
    replace_first_conv_in_channels(model, cfg.in_channels)
    strides = [stride for _, stride in V1_LAYERS]
    stages = (
        Stage("stem", ("features.0",)),
        *_stages_by_stride_all(model.features, strides),
        Stage("head", ("avgpool", "classifier")),
    )
    return BuiltModel(cfg, model, stages)


def _stages_by_stride_all(features: nn.Sequential, strides: list[int]) -> list[Stage]:
    """Like ``_stages_by_stride`` but over ``features[1:]`` (V1 has no final 1x1 conv)."""
    stages: list[list[str]] = []
    for index, stride in enumerate(strides, start=1):
        if stride == 2 or not stages:
            stages.append([])
        stages[-1].append(f"features.{index}")
    return [Stage(f"stage{i}", tuple(n), tuple(n)) for i, n in enumerate(stages, start=1)]


@register_builder(MobileNetV2Config)
def build_mobilenet_v2(cfg: MobileNetV2Config) -> BuiltModel:  # type: ignore[override]
    model = MobileNetV2(num_classes=cfg.classes, width_mult=cfg.alpha)
    replace_first_conv_in_channels(model, cfg.in_channels)
    return BuiltModel(cfg, model, _mobile_stages(model))


@register_builder(MobileNetV3Config)
def build_mobilenet_v3(cfg: MobileNetV3Config) -> BuiltModel:  # type: ignore[override]
    setting, last_channel = _mobilenet_v3_conf(f"mobilenet_v3_{cfg.size}", width_mult=cfg.alpha)
    model = MobileNetV3(setting, last_channel, num_classes=cfg.classes)
    replace_first_conv_in_channels(model, cfg.in_channels)
    return BuiltModel(cfg, model, _mobile_stages(model))


register_preset("mobilenet_v1", "family=mobilenet_v1")
register_preset("mobilenet_v2", "family=mobilenet_v2")
register_preset("mobilenet_v3_large", "family=mobilenet_v3")
register_preset("mobilenet_v3_small", "family=mobilenet_v3&size=small")
