"""The torch modules and builder of the ``plain`` family.

Its config, knobs and presets are :mod:`explorer.families.plain`, which imports no torch.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from explorer.families.nets.base import BuiltModel, Stage, register_builder
from explorer.families.nets.deformable import DeformableConv2d
from explorer.families.nets.resnet import PadShortcut
from explorer.families.plain import PlainConfig


class ConvBlock(nn.Module):
    """One or two conv-BN-ReLU layers, with an optional shortcut around them."""

    def __init__(self, in_channels: int, out_channels: int, stride: int, convs: int, cfg: PlainConfig) -> None:
        super().__init__()
        channels = in_channels
        for index in range(1, convs + 1):
            geometry = (channels, out_channels, 3, stride if index == 1 else 1, 1)
            conv = (
                DeformableConv2d(*geometry, bias=not cfg.bn, modulated=cfg.modulated)
                if cfg.deform
                else nn.Conv2d(*geometry, bias=not cfg.bn)
            )
            self.add_module(f"conv{index}", conv)
            self.add_module(f"bn{index}", nn.BatchNorm2d(out_channels) if cfg.bn else nn.Identity())
            channels = out_channels
        self.convs = convs
        self.relu = nn.ReLU()
        self.shortcut: nn.Module | None = None
        if cfg.skip:
            changes_shape = stride != 1 or in_channels != out_channels
            self.shortcut = PadShortcut(out_channels, stride) if changes_shape else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        out = x
        for index in range(1, self.convs + 1):
            out = getattr(self, f"bn{index}")(getattr(self, f"conv{index}")(out))
            if index < self.convs:
                out = self.relu(out)
        if self.shortcut is not None:
            out = out + self.shortcut(x)
        return self.relu(out)


class PlainNet(nn.Module):
    stage1: nn.Module  # added by name below (stage1..stage3)
    stage2: nn.Module
    stage3: nn.Module

    def __init__(self, cfg: PlainConfig) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(cfg.in_channels, cfg.width, 3, 1, 1, bias=not cfg.bn),
            nn.BatchNorm2d(cfg.width) if cfg.bn else nn.Identity(),
            nn.ReLU(),
        )
        channels = cfg.width
        for stage, convs in enumerate(cfg.stage_convs, start=1):
            out = cfg.width * 2 ** (stage - 1)
            blocks = []
            for first in range(0, convs, 2):
                stride = 2 if (stage > 1 and first == 0) else 1
                blocks.append(ConvBlock(channels, out, stride, min(2, convs - first), cfg))
                channels = out
            self.add_module(f"stage{stage}", nn.Sequential(*blocks))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(channels, cfg.classes)
        _initialise(self, cfg.init)

    def forward(self, x: Tensor) -> Tensor:
        x = self.stage3(self.stage2(self.stage1(self.stem(x))))
        return self.fc(torch.flatten(self.pool(x), 1))


def _initialise(model: nn.Module, scheme: str) -> None:
    """Re-initialise conv and linear weights (offset convs keep their zero start)."""
    if scheme == "default":
        return
    offset_convs = {id(m.offset_conv) for m in model.modules() if isinstance(m, DeformableConv2d)}
    for m in model.modules():
        if not isinstance(m, (nn.Conv2d, nn.Linear, DeformableConv2d)) or id(m) in offset_convs:
            continue
        if scheme == "kaiming":
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
        elif scheme == "xavier":
            nn.init.xavier_normal_(m.weight)
        else:
            nn.init.orthogonal_(m.weight)
        if m.bias is not None:
            nn.init.zeros_(m.bias)


@register_builder(PlainConfig)
def build_plain(cfg: PlainConfig) -> BuiltModel:
    model = PlainNet(cfg)
    stages = [Stage("stem", ("stem",))]
    for stage in (1, 2, 3):
        layer = getattr(model, f"stage{stage}")
        stages.append(Stage(f"stage{stage}", (f"stage{stage}",), tuple(f"stage{stage}.{i}" for i in range(len(layer)))))
    stages.append(Stage("head", ("pool", "fc")))
    return BuiltModel(cfg, model, tuple(stages))
