"""The torch modules and builder of the ``inception`` family.

Its config, knobs and presets are :mod:`explorer.families.inception`, which imports no torch.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import torch
from torch import Tensor, nn
from torchvision.models.inception import (
    BasicConv2d,
    Inception3,
    InceptionA,
    InceptionAux,
    InceptionB,
    InceptionC,
    InceptionD,
    InceptionE,
)

from explorer.families.googlenet import inception_blocks
from explorer.families.inception import STAGES, InceptionV3Config
from explorer.families.nets.base import BuiltModel, Stage, register_builder
from explorer.families.nets.widths import scale, scaled_conv_block


def _linear(in_features: int, out_features: int, stddev: float) -> nn.Linear:
    """A Linear initialised as Inception3 initialises its own (truncated normal, ``stddev``)."""
    layer = nn.Linear(in_features, out_features)
    layer.stddev = stddev  # type: ignore[assignment]  # torchvision's Inception3 reads it
    torch.nn.init.trunc_normal_(layer.weight, mean=0.0, std=stddev, a=-2, b=2)
    return layer


class ScaledInceptionAux(InceptionAux):
    def __init__(self, in_channels: int, num_classes: int, width: float, **kwargs: Any) -> None:
        super().__init__(in_channels, num_classes, **kwargs)
        self.fc = _linear(scale(768, width), num_classes, 0.001)


class ExplorerInception3(Inception3):
    """torchvision's Inception3 built from a config; forward returns the main logits only."""

    def __init__(self, cfg: InceptionV3Config) -> None:
        conv = scaled_conv_block(BasicConv2d, cfg.width, cfg.in_channels)
        aux: Any = InceptionAux if cfg.width == 1.0 else partial(ScaledInceptionAux, width=cfg.width)
        modules = [InceptionA, InceptionB, InceptionC, InceptionD, InceptionE, aux]
        super().__init__(
            num_classes=cfg.classes,
            aux_logits=cfg.aux,
            transform_input=cfg.uses_transform_input,
            inception_blocks=[conv, *(partial(m, conv_block=conv) for m in modules)],
            init_weights=True,
            dropout=cfg.dropout,
        )
        if cfg.width != 1.0:
            self.fc = _linear(scale(2048, cfg.width), cfg.classes, 0.1)
        self.aux_outputs: tuple[Tensor, ...] = ()

    def forward(self, x: Tensor) -> Tensor:
        logits, aux = self._forward(self._transform_input(x))
        self.aux_outputs = () if aux is None else (aux,)
        return logits


@register_builder(InceptionV3Config)
def build_inception_v3(cfg: InceptionV3Config) -> BuiltModel:
    model = ExplorerInception3(cfg)
    stages = [Stage("stem", STAGES["stem"])]
    for name in ("stage5", "stage6", "stage7"):
        # AuxLogits first: a stage's last module must run at inference (see googlenet.py)
        modules = (("AuxLogits",) if name == "stage6" and cfg.aux else ()) + STAGES[name]
        stages.append(Stage(name, modules, inception_blocks(STAGES[name])))
    stages.append(Stage("head", ("avgpool", "dropout", "fc")))
    return BuiltModel(cfg, model, tuple(stages))
