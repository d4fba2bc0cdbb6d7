"""AlexNet family: torchvision's AlexNet (the "one weird trick" variant: 64-192-384-256-256 convs,
two 4096-unit FC layers), with a width multiplier and the dropout rate as knobs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from explorer.compound import KnobScaling, Multipliers
from explorer.families.widths import QUARTER_WIDTHS, scale_quarter_width
from explorer.knobs import ModelConfig, knob, register_preset

#: Paths of the convs in ``features`` and their torchvision channel counts.
CONVS = {0: 64, 3: 192, 6: 384, 8: 256, 10: 256}
HIDDEN = 4096


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


register_preset("alexnet", "family=alexnet")
