"""The torch modules and builder of the ``googlenet`` family.

Its config, knobs and presets are :mod:`explorer.families.googlenet`, which imports no torch.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from torch import Tensor, nn
from torchvision.models.googlenet import BasicConv2d, GoogLeNet, Inception, InceptionAux

from explorer.families.googlenet import STAGES, GoogLeNetConfig, inception_blocks
from explorer.families.nets.base import BuiltModel, Stage, register_builder
from explorer.families.nets.widths import scale, scaled_conv_block


class ScaledInceptionAux(InceptionAux):
    """torchvision's InceptionAux with its FC layers sized for the width (2048 = 128 x 4 x 4)."""

    def __init__(self, in_channels: int, num_classes: int, width: float, **kwargs: Any) -> None:
        super().__init__(in_channels, num_classes, **kwargs)
        hidden = scale(1024, width)
        self.fc1 = nn.Linear(scale(128, width) * 4 * 4, hidden)
        self.fc2 = nn.Linear(hidden, num_classes)


class ExplorerGoogLeNet(GoogLeNet):
    """torchvision's GoogLeNet built from a config; forward returns the main logits only."""

    def __init__(self, cfg: GoogLeNetConfig) -> None:
        conv = scaled_conv_block(BasicConv2d, cfg.width, cfg.in_channels)
        aux: Any = InceptionAux if cfg.width == 1.0 else partial(ScaledInceptionAux, width=cfg.width)
        super().__init__(
            num_classes=cfg.classes,
            aux_logits=cfg.aux,
            transform_input=cfg.uses_transform_input,
            init_weights=True,
            blocks=[conv, partial(Inception, conv_block=conv), partial(aux, conv_block=conv)],
            dropout=cfg.dropout,
            dropout_aux=cfg.dropout_aux,
        )
        if cfg.width != 1.0:
            self.fc = nn.Linear(scale(1024, cfg.width), cfg.classes)
        self.aux_outputs: tuple[Tensor, ...] = ()

    def forward(self, x: Tensor) -> Tensor:
        logits, aux2, aux1 = self._forward(self._transform_input(x))
        self.aux_outputs = tuple(a for a in (aux1, aux2) if a is not None)
        return logits


@register_builder(GoogLeNetConfig)
def build_googlenet(cfg: GoogLeNetConfig) -> BuiltModel:
    model = ExplorerGoogLeNet(cfg)
    # The auxiliary classifiers belong to stage 4 (they read it), listed first: analyses that take a
    # stage's last module as what the stage computed (Grad-CAM targets) must not pick a module that
    # does not run at inference.
    stages = [
        Stage(name, (("aux1", "aux2") if name == "stage4" and cfg.aux else ()) + modules, inception_blocks(modules))
        for name, modules in STAGES.items()
    ]
    stages.append(Stage("head", ("avgpool", "dropout", "fc")))
    return BuiltModel(cfg, model, tuple(stages))
