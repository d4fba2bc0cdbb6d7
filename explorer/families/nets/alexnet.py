"""The torch modules and builder of the ``alexnet`` family.

Its config, knobs and presets are :mod:`explorer.families.alexnet`, which imports no torch.
"""

from __future__ import annotations

from torch import nn
from torchvision.models.alexnet import AlexNet

from explorer.families.alexnet import CONVS, HIDDEN, AlexNetConfig
from explorer.families.nets.base import BuiltModel, Stage, register_builder
from explorer.families.nets.widths import scale


class ExplorerAlexNet(AlexNet):
    """torchvision's AlexNet with its convs and hidden FC layers resized (same module names)."""

    def __init__(self, cfg: AlexNetConfig) -> None:
        super().__init__(num_classes=cfg.classes, dropout=cfg.dropout)
        if cfg.width == 1.0 and cfg.in_channels == 3:
            return  # exactly torchvision's layers (and its initialisation)
        channels = cfg.in_channels
        for index, out in CONVS.items():
            old = self.features[index]
            out = scale(out, cfg.width)
            self.features[index] = nn.Conv2d(channels, out, old.kernel_size, old.stride, old.padding)
            channels = out
        hidden = scale(HIDDEN, cfg.width)
        self.classifier[1] = nn.Linear(channels * 6 * 6, hidden)
        self.classifier[4] = nn.Linear(hidden, hidden)
        self.classifier[6] = nn.Linear(hidden, cfg.classes)


@register_builder(AlexNetConfig)
def build_alexnet(cfg: AlexNetConfig) -> BuiltModel:
    model = ExplorerAlexNet(cfg)
    # One stage per resolution: conv1 (stride 4) + pool, conv2 + pool, conv3-5 + pool.
    stages = (
        Stage("stage1", ("features.0", "features.1", "features.2")),
        Stage("stage2", ("features.3", "features.4", "features.5")),
        Stage("stage3", tuple(f"features.{i}" for i in range(6, 13))),
        Stage("head", ("avgpool", "classifier")),
    )
    return BuiltModel(cfg, model, stages)
