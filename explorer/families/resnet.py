"""ResNet family: torchvision's ResNet/BasicBlock/Bottleneck, plus the variants it lacks.

Added by hand because torchvision has no equivalent: the CIFAR stem (3 stages of 16-32-64
channels, parameter-free "option A" shortcuts), skip-off ("plain") blocks, pre-activation blocks
(He et al., "Identity Mappings in Deep Residual Networks") and deformable 3x3 convs.
Canonical configs keep torchvision's module names, so its state dicts load with strict=True.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from explorer.compound import KnobScaling, Multipliers, clamp, nearest, rounded
from explorer.knobs import ConfigError, ModelConfig, knob, register_preset

#: ImageNet layouts from the ResNet paper (Table 1) and, for 200, the identity-mappings paper.
IMAGENET_LAYOUTS: dict[int, tuple[str, tuple[int, ...]]] = {
    10: ("basic", (1, 1, 1, 1)),
    18: ("basic", (2, 2, 2, 2)),
    26: ("bottleneck", (2, 2, 2, 2)),
    34: ("basic", (3, 4, 6, 3)),
    50: ("bottleneck", (3, 4, 6, 3)),
    101: ("bottleneck", (3, 4, 23, 3)),
    152: ("bottleneck", (3, 8, 36, 3)),
    200: ("bottleneck", (3, 24, 36, 3)),
}


@dataclass(frozen=True, kw_only=True)
class ResNetConfig(ModelConfig):
    family: ClassVar[str] = "resnet"
    title: ClassVar[str] = "ResNet"
    resolution_rule: ClassVar[str] = "224 (imagenet stem) or 32 (cifar stem)"

    depth: int = knob(
        18,
        "int",
        "weighted layers; imagenet stem: 10, 18, 34 (basic) or 26, 50, 101, 152, 200 (bottleneck); "
        "cifar stem: 6n+2 (basic) or 9n+2 (bottleneck)",
        minimum=8,
        maximum=1202,
    )
    block: str | None = knob(
        None, "choice", "residual block type", choices=("basic", "bottleneck"), derived="from depth, as in the paper"
    )
    width: int | None = knob(
        None,
        "int",
        "channels of the first stage (doubling each stage)",
        minimum=4,
        maximum=256,
        derived="64 (imagenet stem) or 16 (cifar stem)",
    )
    groups: int = knob(1, "int", "grouped 3x3 convs (ResNeXt cardinality; bottleneck only)", minimum=1, maximum=64)
    width_per_group: int = knob(
        64,
        "int",
        "bottleneck width per group x 64/64 (128 = wide ResNet-50-2; 4 with groups=32 = ResNeXt)",
        minimum=1,
        maximum=512,
    )
    stem: str = knob(
        "imagenet",
        "choice",
        "imagenet: 7x7 conv + max-pool, 4 stages; cifar: 3x3 conv, 3 stages",
        choices=("imagenet", "cifar"),
    )
    skip: bool = knob(True, "onoff", "identity shortcuts (off = the paper's plain network)")
    preact: bool = knob(False, "onoff", "pre-activation blocks (BN-ReLU-conv, identity-mapping ResNet)")
    bn: bool = knob(True, "onoff", "batch normalisation")
    deform: tuple[int, ...] = knob(
        (), "stages", "stages whose 3x3 convs are deformable, e.g. 4 or 3,4", choices=(1, 2, 3, 4)
    )
    modulated: bool = knob(False, "onoff", "DCNv2: the deformable convs also predict a modulation mask (needs deform)")

    @property
    def num_stages(self) -> int:
        return 3 if self.stem == "cifar" else 4

    @property
    def block_type(self) -> str:
        if self.block is not None:
            return self.block
        if self.stem == "imagenet":
            return IMAGENET_LAYOUTS.get(self.depth, ("basic",))[0]
        return "basic" if (self.depth - 2) % 6 == 0 else "bottleneck"

    @property
    def stage_blocks(self) -> tuple[int, ...]:
        if self.stem == "imagenet":
            return IMAGENET_LAYOUTS[self.depth][1]
        per_block = 2 if self.block_type == "basic" else 3
        return ((self.depth - 2) // (3 * per_block),) * 3

    @property
    def base_width(self) -> int:
        return self.width if self.width is not None else (64 if self.stem == "imagenet" else 16)

    @property
    def min_resolution(self) -> int:  # type: ignore[override]  # per config, not per class
        return 32 if self.stem == "imagenet" else 8

    def derived_resolution(self) -> int:
        return 224 if self.stem == "imagenet" else 32

    # -- scaling: standard depths (imagenet stem) or blocks per stage (cifar stem), first-stage width
    def scale_knobs(self, m: Multipliers) -> KnobScaling:
        notes: list[str] = []
        if self.stem == "imagenet":
            block = self.block_type
            allowed = [d for d, (b, _) in IMAGENET_LAYOUTS.items() if b == block]
            depth = int(nearest(allowed, self.depth * m.depth))
            if m.depth != 1.0:
                notes.append(
                    f"depth: {self.depth} x {m.depth:.3g} = {self.depth * m.depth:.1f}; nearest standard "
                    f"{block} ResNet depth is {depth} (allowed: {', '.join(map(str, allowed))})"
                )
        else:
            per = 6 if self.block_type == "basic" else 9
            n0 = (self.depth - 2) // per
            n = max(1, math.ceil(rounded(n0 * m.depth)))
            depth = per * n + 2
            if m.depth != 1.0:
                notes.append(f"depth: {n0} blocks per stage x {m.depth:.3g}, rounded up = {n} ({per}n+2 = {depth})")
        changes: dict[str, Any] = {"depth": depth}
        width = int(clamp(round(self.base_width * m.width), 4, 256))
        if width != self.base_width or self.width is not None:
            changes["width"] = width
        if m.width != 1.0:
            notes.append(f"width: first stage {self.base_width} x {m.width:.3g} -> {width} channels (whole channels)")
        return KnobScaling(changes, depth / self.depth, width / self.base_width, tuple(notes))

    def depth_rounding(self) -> str:
        return "nearest standard depth" if self.stem == "imagenet" else "blocks per stage rounded up"

    def derived_values(self) -> dict[str, Any]:
        return super().derived_values() | {"width": self.base_width, "block": self.block_type}

    @classmethod
    def options_for(cls, name: str, values: Mapping[str, Any]) -> tuple[Any, ...] | None:
        stem, block = values.get("stem", "imagenet"), values.get("block")
        if name == "depth":
            if stem == "imagenet":
                return tuple(d for d, (b, _) in IMAGENET_LAYOUTS.items() if block in (None, b))
            basic, bottleneck = set(range(8, 1203, 6)), set(range(11, 1203, 9))
            chosen = {"basic": basic, "bottleneck": bottleneck}.get(block or "", basic | bottleneck)
            return tuple(sorted(chosen))
        if name == "deform":
            return tuple(range(1, 4 if stem == "cifar" else 5))
        return super().options_for(name, values)

    def validate(self) -> None:
        block = self.block_type
        if self.stem == "imagenet":
            allowed = [d for d, (b, _) in IMAGENET_LAYOUTS.items() if self.block in (None, b)]
            if self.depth not in allowed:
                which = "an ImageNet ResNet depth" if self.block is None else f"a depth for block={self.block}"
                raise ConfigError(
                    f"depth={self.depth} is not {which}; allowed: "
                    + ", ".join(map(str, allowed))
                    + " (or use stem=cifar for 6n+2 / 9n+2 depths)"
                )
        else:
            per = 6 if block == "basic" else 9
            if (self.depth - 2) % per != 0:
                raise ConfigError(
                    f"depth={self.depth} with stem=cifar and {block} blocks must be {per}n+2 "
                    f"(e.g. {per * 3 + 2}, {per * 6 + 2}, {per * 18 + 2})"
                )
        if block == "basic" and (self.groups != 1 or self.width_per_group != 64):
            raise ConfigError(
                "groups and width_per_group need block=bottleneck (basic blocks take groups=1, width_per_group=64)"
            )
        if int(self.base_width * self.width_per_group / 64) < 1:
            raise ConfigError(
                f"width_per_group={self.width_per_group} leaves the first stage's bottleneck with no channels"
            )
        if self.modulated and not self.deform:
            raise ConfigError("modulated=on needs deformable stages (e.g. deform=4)")
        too_high = [s for s in self.deform if s > self.num_stages]
        if too_high:
            raise ConfigError(f"deform={','.join(map(str, too_high))}: stem={self.stem} has stages 1-{self.num_stages}")


for _depth in (18, 34, 50, 101, 152):
    register_preset(f"resnet{_depth}", f"family=resnet&depth={_depth}")
register_preset("wide_resnet50_2", "family=resnet&depth=50&width_per_group=128")
register_preset("resnext50_32x4d", "family=resnet&depth=50&groups=32&width_per_group=4")
for _depth in (20, 32, 44, 56, 110, 1202):
    register_preset(f"resnet{_depth}", f"family=resnet&stem=cifar&depth={_depth}&classes=10")
register_preset("preact_resnet164", "family=resnet&stem=cifar&depth=164&block=bottleneck&preact=on&classes=10")
register_preset("preact_resnet1001", "family=resnet&stem=cifar&depth=1001&preact=on&classes=10")
