"""Inception-v3 family: torchvision's Inception3 and its InceptionA-E modules (Szegedy et al., 2016,
"Rethinking the Inception Architecture"), with the auxiliary classifier, the width, the dropout rate
and the input transform as knobs. Natural input: 299 px.

As for GoogLeNet (see :mod:`explorer.families.googlenet`), forward always returns the main logits;
in training mode with ``aux=on`` the auxiliary logits are kept in ``model.aux_outputs``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from explorer.compound import KnobScaling, Multipliers
from explorer.families.googlenet import check_transform_input, transform_input_knob
from explorer.families.widths import QUARTER_WIDTHS, scale_quarter_width
from explorer.knobs import ConfigError, ModelConfig, knob, register_preset

AUX_MIN_RESOLUTION = 299


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
    def min_resolution(self) -> int:  # type: ignore[override]  # per config, not per class
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


register_preset("inception_v3", "family=inception_v3")
