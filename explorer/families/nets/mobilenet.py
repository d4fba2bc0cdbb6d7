"""The torch modules and builder of the ``mobilenet`` family.

Its config, knobs and presets are :mod:`explorer.families.mobilenet`, which imports no torch.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import cast

import torch
from torch import Tensor, nn
from torchvision.models.mobilenetv2 import MobileNetV2
from torchvision.models.mobilenetv3 import MobileNetV3, _mobilenet_v3_conf
from torchvision.ops.misc import Conv2dNormActivation

from explorer.families.mobilenet import V1_LAYERS, MobileNetV1Config, MobileNetV2Config, MobileNetV3Config
from explorer.families.nets.base import BuiltModel, Stage, register_builder, replace_first_conv_in_channels
from explorer.families.rounding import make_divisible


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
    features = cast(nn.Sequential, model.features)
    last = len(features) - 1
    strides = [_first_stride(features[i]) for i in range(1, last)]
    head = (f"features.{last}", *(name for name in ("avgpool", "classifier") if hasattr(model, name)))
    return (
        Stage("stem", ("features.0",)),
        *_stages_by_stride(features, strides),
        Stage("head", head),
    )


@register_builder(MobileNetV1Config)
def build_mobilenet_v1(cfg: MobileNetV1Config) -> BuiltModel:
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
def build_mobilenet_v2(cfg: MobileNetV2Config) -> BuiltModel:
    model = MobileNetV2(num_classes=cfg.classes, width_mult=cfg.alpha)
    replace_first_conv_in_channels(model, cfg.in_channels)
    return BuiltModel(cfg, model, _mobile_stages(model))


@register_builder(MobileNetV3Config)
def build_mobilenet_v3(cfg: MobileNetV3Config) -> BuiltModel:
    setting, last_channel = _mobilenet_v3_conf(f"mobilenet_v3_{cfg.size}", width_mult=cfg.alpha)
    model = MobileNetV3(setting, last_channel, num_classes=cfg.classes)
    replace_first_conv_in_channels(model, cfg.in_channels)
    return BuiltModel(cfg, model, _mobile_stages(model))
