"""Inception-v3 family: torchvision's Inception3 and its InceptionA-E modules (Szegedy et al., 2016,
"Rethinking the Inception Architecture"), with the auxiliary classifier, the width, the dropout rate
and the input transform as knobs. Natural input: 299 px.

As for GoogLeNet (see :mod:`explorer.families.googlenet`), forward always returns the main logits;
in training mode with ``aux=on`` the auxiliary logits are kept in ``model.aux_outputs``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any, ClassVar

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

from explorer.compound import KnobScaling, Multipliers
from explorer.config import ConfigError, ModelConfig, knob, register_family, register_preset
from explorer.families.base import BuiltModel, Stage, register_builder
from explorer.families.googlenet import check_transform_input, inception_blocks, transform_input_knob
from explorer.families.widths import QUARTER_WIDTHS, scale, scale_quarter_width, scaled_conv_block

AUX_MIN_RESOLUTION = 299


@register_family
@dataclass(frozen=True, kw_only=True)
class InceptionV3Config(ModelConfig):
    family: ClassVar[str] = "inception_v3"
    title: ClassVar[str] = "Inception-v3"
    natural_resolution: ClassVar[int] = 299
    resolution_rule: ClassVar[str] = "299"

    aux: bool = knob(True, "onoff", "the auxiliary classifier after Mixed_6e (training only)")
    width: float = knob(1.0, "float", "channels of every conv x width", choices=QUARTER_WIDTHS)
    dropout: float = knob(0.5, "float", "dropout before the classifier", minimum=0.0, maximum=0.9)
    transform_input: bool | None = transform_input_knob()

    def scale_knobs(self, m: Multipliers) -> KnobScaling:
        return scale_quarter_width(self, m)

    @property
    def uses_transform_input(self) -> bool:
        return self.transform_input if self.transform_input is not None else self.in_channels == 3

    def derived_values(self) -> dict[str, Any]:
        return super().derived_values() | {"transform_input": self.uses_transform_input}

    @property
    def min_resolution(self) -> int:  # type: ignore[override]
        """75 px: five unpadded stride-2 steps (torchvision's min_size); with the auxiliary classifier
        299 px, since its 5x5 conv needs Mixed_6e's 17 px map (it runs whenever the net trains)."""
        return AUX_MIN_RESOLUTION if self.aux else 75

    def validate(self) -> None:
        check_transform_input(self)
        if self.aux and self.input_resolution < AUX_MIN_RESOLUTION:
            raise ConfigError(
                f"resolution={self.input_resolution} is too small for the auxiliary classifier (aux=on needs "
                f"{AUX_MIN_RESOLUTION} px: its 5x5 conv reads Mixed_6e's 17 px map); use aux=off for smaller inputs"
            )


def _linear(in_features: int, out_features: int, stddev: float) -> nn.Linear:
    """A Linear initialised as Inception3 initialises its own (truncated normal, ``stddev``)."""
    layer = nn.Linear(in_features, out_features)
    layer.stddev = stddev  # type: ignore[assignment]
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

    def forward(self, x: Tensor) -> Tensor:  # type: ignore[override]
        logits, aux = self._forward(self._transform_input(x))
        self.aux_outputs = () if aux is None else (aux,)
        return logits


STAGES = {
    "stem": (
        "Conv2d_1a_3x3",
        "Conv2d_2a_3x3",
        "Conv2d_2b_3x3",
        "maxpool1",
        "Conv2d_3b_1x1",
        "Conv2d_4a_3x3",
        "maxpool2",
    ),
    "stage5": ("Mixed_5b", "Mixed_5c", "Mixed_5d"),
    "stage6": ("Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e"),
    "stage7": ("Mixed_7a", "Mixed_7b", "Mixed_7c"),
}


@register_builder(InceptionV3Config)
def build_inception_v3(cfg: InceptionV3Config) -> BuiltModel:  # type: ignore[override]
    model = ExplorerInception3(cfg)
    stages = [Stage("stem", STAGES["stem"])]
    for name in ("stage5", "stage6", "stage7"):
        # AuxLogits first: a stage's last module must run at inference (see googlenet.py)
        modules = (("AuxLogits",) if name == "stage6" and cfg.aux else ()) + STAGES[name]
        stages.append(Stage(name, modules, inception_blocks(STAGES[name])))
    stages.append(Stage("head", ("avgpool", "dropout", "fc")))
    return BuiltModel(cfg, model, tuple(stages))


register_preset("inception_v3", "family=inception_v3")
