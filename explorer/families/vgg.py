"""VGG family: torchvision's VGG and its layer tables (configurations A, B, D, E of the paper)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from explorer.compound import KnobScaling, Multipliers, nearest, not_scaled
from explorer.knobs import ModelConfig, knob, register_preset

DEPTH_TO_TABLE = {11: "A", 13: "B", 16: "D", 19: "E"}


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


for _depth in (11, 13, 16, 19):
    register_preset(f"vgg{_depth}", f"family=vgg&depth={_depth}")
    register_preset(f"vgg{_depth}_bn", f"family=vgg&depth={_depth}&bn=on")
