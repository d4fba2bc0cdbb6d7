"""GoogLeNet family: torchvision's GoogLeNet, Inception and InceptionAux (Szegedy et al., 2014),
with the auxiliary classifiers, the width and the dropout rates as knobs.

torchvision's Inception module keeps a known deviation from the paper for its weights' sake: the
"5x5" branch is a 3x3 conv (see torchvision issue #906). It is kept here, so the counts and state
dicts are torchvision's.

Auxiliary classifiers run only in training mode (as in torchvision). Unlike torchvision, forward
always returns the main logits; in training mode the auxiliary logits are kept in
``model.aux_outputs`` (aux1, aux2) for a trainer that adds their loss (weight 0.3 in the paper).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any, ClassVar

from torch import Tensor, nn
from torchvision.models.googlenet import BasicConv2d, GoogLeNet, Inception, InceptionAux

from explorer.compound import KnobScaling, Multipliers
from explorer.config import ConfigError, ModelConfig, knob, register_family, register_preset
from explorer.families.base import BuiltModel, Stage, register_builder
from explorer.families.widths import QUARTER_WIDTHS, scale, scale_quarter_width, scaled_conv_block


def transform_input_knob() -> Any:
    return knob(
        None,
        "onoff",
        "re-scale ImageNet-normalised input to the [-1, 1] range Google's weights were trained on",
        derived="on with 3 input channels (what the ImageNet weights expect), else off",
    )


def check_transform_input(config: Any) -> None:
    if config.transform_input and config.in_channels != 3:
        raise ConfigError(f"transform_input=on needs in_channels=3 (it re-scales RGB), not {config.in_channels}")


@register_family
@dataclass(frozen=True, kw_only=True)
class GoogLeNetConfig(ModelConfig):
    family: ClassVar[str] = "googlenet"
    title: ClassVar[str] = "GoogLeNet (Inception v1)"
    #: The ceil-mode max-pools keep at least 1 px; below 15 px the 3x3 pools have no full window.
    min_resolution: ClassVar[int] = 15

    aux: bool = knob(False, "onoff", "the two auxiliary classifiers after inception 4a and 4d (training only)")
    width: float = knob(1.0, "float", "channels of every conv and the aux FC layers x width", choices=QUARTER_WIDTHS)
    dropout: float = knob(0.2, "float", "dropout before the classifier", minimum=0.0, maximum=0.9)
    dropout_aux: float = knob(0.7, "float", "dropout in the auxiliary classifiers", minimum=0.0, maximum=0.9)
    transform_input: bool | None = transform_input_knob()

    def scale_knobs(self, m: Multipliers) -> KnobScaling:
        return scale_quarter_width(self, m)

    @property
    def uses_transform_input(self) -> bool:
        return self.transform_input if self.transform_input is not None else self.in_channels == 3

    def derived_values(self) -> dict[str, Any]:
        return super().derived_values() | {"transform_input": self.uses_transform_input}

    def validate(self) -> None:
        check_transform_input(self)


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

    def forward(self, x: Tensor) -> Tensor:  # type: ignore[override]
        logits, aux2, aux1 = self._forward(self._transform_input(x))
        self.aux_outputs = tuple(a for a in (aux1, aux2) if a is not None)
        return logits


#: Stage layout (by resolution: 28, 14 and 7 px at 224) and the modules of each.
STAGES = {
    "stem": ("conv1", "maxpool1", "conv2", "conv3", "maxpool2"),
    "stage3": ("inception3a", "inception3b", "maxpool3"),
    "stage4": ("inception4a", "inception4b", "inception4c", "inception4d", "inception4e", "maxpool4"),
    "stage5": ("inception5a", "inception5b"),
}


@register_builder(GoogLeNetConfig)
def build_googlenet(cfg: GoogLeNetConfig) -> BuiltModel:  # type: ignore[override]
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


def inception_blocks(modules: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(m for m in modules if m.startswith(("inception", "Mixed")))


register_preset("googlenet", "family=googlenet")
