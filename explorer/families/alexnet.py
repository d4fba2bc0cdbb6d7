"""AlexNet family: torchvision's AlexNet (the "one weird trick" variant: 64-192-384-256-256 convs,
two 4096-unit FC layers), with a width multiplier and the dropout rate as knobs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from torch import nn
from torchvision.models.alexnet import AlexNet

from explorer.compound import KnobScaling, Multipliers
from explorer.config import ModelConfig, knob, register_family, register_preset
from explorer.families.base import BuiltModel, Stage, register_builder
from explorer.families.widths import QUARTER_WIDTHS, scale, scale_quarter_width

#: Paths of the convs in ``features`` and their torchvision channel counts.
CONVS = {0: 64, 3: 192, 6: 384, 8: 256, 10: 256}
HIDDEN = 4096


@register_family
@dataclass(frozen=True, kw_only=True)
class AlexNetConfig(ModelConfig):
    family: ClassVar[str] = "alexnet"
    title: ClassVar[str] = "AlexNet"
    #: 11x11 stride-4 conv and three 3x3 stride-2 max-pools need 63 px (torchvision's min_size).
    min_resolution: ClassVar[int] = 63

    width: float = knob(
        1.0,
        "float",
        "channels of every conv and of the two 4096-unit FC layers x width",
        choices=QUARTER_WIDTHS,
    )
    dropout: float = knob(0.5, "float", "dropout before each of the two hidden FC layers", minimum=0.0, maximum=0.9)

    def scale_knobs(self, m: Multipliers) -> KnobScaling:
        return scale_quarter_width(self, m)


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
def build_alexnet(cfg: AlexNetConfig) -> BuiltModel:  # type: ignore[override]
    model = ExplorerAlexNet(cfg)
    # One stage per resolution: conv1 (stride 4) + pool, conv2 + pool, conv3-5 + pool.
    stages = (
        Stage("stage1", ("features.0", "features.1", "features.2")),
        Stage("stage2", ("features.3", "features.4", "features.5")),
        Stage("stage3", tuple(f"features.{i}" for i in range(6, 13))),
        Stage("head", ("avgpool", "classifier")),
    )
    return BuiltModel(cfg, model, stages)


register_preset("alexnet", "family=alexnet")
