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
from typing import Any, ClassVar

from explorer.compound import KnobScaling, Multipliers
from explorer.families.widths import QUARTER_WIDTHS, scale_quarter_width
from explorer.knobs import ConfigError, ModelConfig, knob, register_preset


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


#: Stage layout (by resolution: 28, 14 and 7 px at 224) and the modules of each.
STAGES = {
    "stem": ("conv1", "maxpool1", "conv2", "conv3", "maxpool2"),
    "stage3": ("inception3a", "inception3b", "maxpool3"),
    "stage4": ("inception4a", "inception4b", "inception4c", "inception4d", "inception4e", "maxpool4"),
    "stage5": ("inception5a", "inception5b"),
}


def inception_blocks(modules: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(m for m in modules if m.startswith(("inception", "Mixed")))


register_preset("googlenet", "family=googlenet")
