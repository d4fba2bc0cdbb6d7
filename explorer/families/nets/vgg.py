"""The torch modules and builder of the ``vgg`` family.

Its config, knobs and presets are :mod:`explorer.families.vgg`, which imports no torch.
"""

from __future__ import annotations

from torch import nn
from torchvision.models.vgg import VGG, cfgs, make_layers

from explorer.families.nets.base import BuiltModel, Stage, register_builder, replace_first_conv_in_channels
from explorer.families.vgg import DEPTH_TO_TABLE, VGGConfig


@register_builder(VGGConfig)
def build_vgg(cfg: VGGConfig) -> BuiltModel:
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
