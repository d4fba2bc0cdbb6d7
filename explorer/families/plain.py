"""A VGG-style stack of 3x3 convs for signal-flow experiments (written here: no library has it).

``depth`` 3x3 convs: a stem conv, then ``depth - 1`` convs split as evenly as possible over three
stages of ``width``, ``2*width`` and ``4*width`` channels (the first conv of stages 2 and 3 has
stride 2), then global average pooling and a linear classifier. Convs are paired into blocks; with
``skip=on`` each pair gets an identity shortcut (zero-padded and subsampled where the pair changes
shape, as in the CIFAR ResNets), turning the stack into a residual network of the same weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from explorer.compound import KnobScaling, Multipliers, clamp
from explorer.knobs import ConfigError, ModelConfig, knob

INITS = ("default", "kaiming", "xavier", "orthogonal")


@dataclass(frozen=True, kw_only=True)
class PlainConfig(ModelConfig):
    family: ClassVar[str] = "plain"
    title: ClassVar[str] = "Plain conv stack"
    resolution_rule: ClassVar[str] = "32"
    natural_resolution: ClassVar[int] = 32
    min_resolution: ClassVar[int] = 8

    depth: int = knob(20, "int", "number of 3x3 conv layers", minimum=4, maximum=1000)
    width: int = knob(16, "int", "channels of the first stage (x2 and x4 in the next two)", minimum=1, maximum=256)
    bn: bool = knob(True, "onoff", "batch normalisation after every conv")
    skip: bool = knob(False, "onoff", "identity shortcut around every pair of convs")
    init: str = knob("default", "choice", "weight initialisation of convs and the classifier", choices=INITS)
    deform: bool = knob(False, "onoff", "deformable 3x3 convs after the stem")
    modulated: bool = knob(False, "onoff", "DCNv2: the deformable convs also predict a modulation mask (needs deform)")

    def validate(self) -> None:
        if self.modulated and not self.deform:
            raise ConfigError("modulated=on needs deform=on")

    def scale_knobs(self, m: Multipliers) -> KnobScaling:
        depth = int(clamp(round(self.depth * m.depth), 4, 1000))
        width = int(clamp(round(self.width * m.width), 1, 256))
        notes: tuple[str, ...] = ()
        if m.depth != 1.0 or m.width != 1.0:
            notes = (f"depth {self.depth} -> {depth} conv layers, width {self.width} -> {width} (whole numbers)",)
        return KnobScaling({"depth": depth, "width": width}, depth / self.depth, width / self.width, notes)

    @property
    def stage_convs(self) -> tuple[int, int, int]:
        n, extra = divmod(self.depth - 1, 3)
        return (n + (extra > 0), n + (extra > 1), n)


