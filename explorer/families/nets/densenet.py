"""The torch modules and builder of the ``densenet`` family.

Its config, knobs and presets are :mod:`explorer.families.densenet`, which imports no torch.
"""

from __future__ import annotations

import math
from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.models.densenet import _DenseBlock, _Transition

from explorer.families.densenet import DenseNetConfig
from explorer.families.nets.base import BuiltModel, Stage, register_builder, replace_first_conv_in_channels


class ExplorerDenseNet(nn.Module):
    """Same layout and names as torchvision.models.DenseNet (features.*, classifier)."""

    def __init__(self, cfg: DenseNetConfig) -> None:
        super().__init__()
        features = 2 * cfg.k
        if cfg.stem == "imagenet":
            stem = [
                ("conv0", nn.Conv2d(3, features, kernel_size=7, stride=2, padding=3, bias=False)),
                ("norm0", nn.BatchNorm2d(features)),
                ("relu0", nn.ReLU(inplace=True)),
                ("pool0", nn.MaxPool2d(kernel_size=3, stride=2, padding=1)),
            ]
        else:
            stem = [("conv0", nn.Conv2d(3, features, kernel_size=3, padding=1, bias=False))]
        self.features = nn.Sequential(OrderedDict(stem))
        layout = cfg.block_layout
        for i, num_layers in enumerate(layout):
            block = _DenseBlock(num_layers, features, cfg.bn_size, cfg.k, drop_rate=0.0)
            self.features.add_module(f"denseblock{i + 1}", block)
            features += num_layers * cfg.k
            if i != len(layout) - 1:
                out = max(1, math.floor(features * cfg.compression))
                self.features.add_module(f"transition{i + 1}", _Transition(features, out))
                features = out
        self.features.add_module(f"norm{len(layout) + 1}", nn.BatchNorm2d(features))
        self.classifier = nn.Linear(features, cfg.classes)
        for m in self.modules():  # torchvision's initialisation
            if isinstance(m, nn.Conv2d) and m.weight.device.type != "meta":  # meta: no values (and slow)
                nn.init.kaiming_normal_(m.weight)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.Linear):
                nn.init.constant_(m.bias, 0)
        replace_first_conv_in_channels(self, cfg.in_channels)

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.features(x), inplace=True)
        out = torch.flatten(F.adaptive_avg_pool2d(out, (1, 1)), 1)
        return self.classifier(out)


@register_builder(DenseNetConfig)
def build_densenet(cfg: DenseNetConfig) -> BuiltModel:
    model = ExplorerDenseNet(cfg)
    stem_names = ("conv0", "norm0", "relu0", "pool0") if cfg.stem == "imagenet" else ("conv0",)
    stages = [Stage("stem", tuple(f"features.{n}" for n in stem_names))]
    layout = cfg.block_layout
    for i, num_layers in enumerate(layout, start=1):
        modules = [f"features.denseblock{i}"] + ([f"features.transition{i}"] if i < len(layout) else [])
        blocks = tuple(f"features.denseblock{i}.denselayer{j}" for j in range(1, num_layers + 1))
        stages.append(Stage(f"block{i}", tuple(modules), blocks))
    stages.append(Stage("head", (f"features.norm{len(layout) + 1}", "classifier")))
    return BuiltModel(cfg, model, tuple(stages))
