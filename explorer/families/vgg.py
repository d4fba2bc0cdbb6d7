"""VGG family: torchvision's VGG and its layer tables (configurations A, B, D, E of the paper)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from torch import nn
from torchvision.models.vgg import VGG, cfgs, make_layers

from explorer.compound import KnobScaling, Multipliers, nearest, not_scaled
from explorer.config import ModelConfig, knob, register_family, register_preset
from explorer.families.base import BuiltModel, Stage, register_builder, replace_first_conv_in_channels

DEPTH_TO_TABLE = {11: "A", 13: "B", 16: "D", 19: "E"}


@register_family
@dataclass(frozen=True, kw_only=True)
class VGGConfig(ModelConfig):
    family: ClassVar[str] = "vgg"
    title: ClassVar[str] = "VGG"

    depth: int = knob(16, "int", "weighted layers (configurations A, B, D, E)", choices=(11, 13, 16, 19))
    bn: bool = knob(False, "onoff", "batch normalisation after every conv (the _bn models)")

    # -- scaling: the nearest of the four configurations; channels are fixed by the table -----------
    def scale_knobs(self, m: Multipliers) -> KnobScaling:
        depth = int(nearest((11, 13, 16, 19), self.depth * m.depth))
        notes = [f"depth: {self.depth} x {m.depth:.3g}; nearest VGG configuration is {depth}"] if m.depth != 1.0 else []
        fixed = not_scaled(
            self.family, m, ("width",), "VGG's channels are fixed by its configuration table (no width knob)"
        )
        return KnobScaling({"depth": depth}, depth / self.depth, 1.0, (*notes, *fixed.notes), fixed.unapplied)

    def depth_rounding(self) -> str:
        return "nearest VGG configuration"


@register_builder(VGGConfig)
def build_vgg(cfg: VGGConfig) -> BuiltModel:  # type: ignore[override]
    model = VGG(make_layers(cfgs[DEPTH_TO_TABLE[cfg.depth]], batch_norm=cfg.bn), num_classes=cfg.classes)
    replace_first_conv_in_channels(model, cfg.in_channels)
    stages: list[Stage] = []
    current: list[str] = []
    for index, layer in enumerate(model.features):
        current.append(f"features.{index}")
        if isinstance(layer, nn.MaxPool2d):
            stages.append(Stage(f"stage{len(stages) + 1}", tuple(current)))
            current = []
    stages.append(Stage("head", ("avgpool", "classifier")))
    return BuiltModel(cfg, model, tuple(stages))


for _depth in (11, 13, 16, 19):
    register_preset(f"vgg{_depth}", f"family=vgg&depth={_depth}")
    register_preset(f"vgg{_depth}_bn", f"family=vgg&depth={_depth}&bn=on")
