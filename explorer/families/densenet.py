"""DenseNet family from torchvision's ``_DenseBlock`` and ``_Transition`` (same module names as
``torchvision.models.DenseNet``); written out here only to add the compression factor and the
CIFAR stem (DenseNet-BC: 3 blocks of (depth-4)/6 layers, 2k initial features), which
torchvision's constructor hard-codes away."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from explorer.compound import KnobScaling, Multipliers, clamp, rounded
from explorer.knobs import ConfigError, ModelConfig, knob, register_preset

#: ImageNet layouts from the DenseNet paper (Table 1); 161 is k=48.
IMAGENET_BLOCKS: dict[int, tuple[int, ...]] = {
    121: (6, 12, 24, 16),
    161: (6, 12, 36, 24),
    169: (6, 12, 32, 32),
    201: (6, 12, 48, 32),
    264: (6, 12, 64, 48),
}


@dataclass(frozen=True, kw_only=True)
class DenseNetConfig(ModelConfig):
    family: ClassVar[str] = "densenet"
    title: ClassVar[str] = "DenseNet"
    resolution_rule: ClassVar[str] = "224 (imagenet stem) or 32 (cifar stem)"

    depth: int = knob(
        121,
        "int",
        "imagenet stem: 121, 161, 169, 201 or 264; cifar stem: 3n+4 with n even (DenseNet-BC, e.g. 100)",
        minimum=10,
        maximum=400,
    )
    blocks: tuple[int, ...] | None = knob(
        None,
        "ints",
        "layers per dense block, e.g. 6-12-24-16 (overrides depth)",
        minimum=1,
        maximum=128,
        derived="from depth",
    )
    k: int = knob(32, "int", "growth rate: channels each layer adds", minimum=1, maximum=128)
    bn_size: int = knob(4, "int", "bottleneck width, in multiples of k", minimum=1, maximum=8)
    compression: float = knob(0.5, "float", "channels kept by each transition", minimum=0.1, maximum=1.0, step=0.05)
    stem: str = knob(
        "imagenet",
        "choice",
        "imagenet: 7x7 conv + max-pool; cifar: one 3x3 conv, 3 blocks",
        choices=("imagenet", "cifar"),
    )

    # -- scaling: layers per dense block rounded up, growth rate k -----------------------------------
    def scale_knobs(self, m: Multipliers) -> KnobScaling:
        layout = self.block_layout
        notes: list[str] = []
        changes: dict[str, Any] = {}
        depth = 1.0
        if m.depth != 1.0:
            blocks = tuple(max(1, min(128, math.ceil(rounded(n * m.depth)))) for n in layout)
            changes["blocks"] = blocks
            depth = sum(blocks) / sum(layout)
            notes.append(f"depth: layers per dense block {layout} x {m.depth:.3g}, rounded up -> {blocks}")
        k = int(clamp(round(self.k * m.width), 1, 128))
        changes["k"] = k
        if m.width != 1.0:
            notes.append(f"width: growth rate k = {self.k} x {m.width:.3g} -> {k}")
        return KnobScaling(changes, depth, k / self.k, tuple(notes))

    def depth_rounding(self) -> str:
        return "each stage rounded up"

    @property
    def block_layout(self) -> tuple[int, ...]:
        if self.blocks is not None:
            return self.blocks
        if self.stem == "imagenet":
            return IMAGENET_BLOCKS[self.depth]
        return ((self.depth - 4) // 6,) * 3

    @property
    def min_resolution(self) -> int:  # type: ignore[override]  # per config, not per class
        return 2 ** (len(self.block_layout) + (1 if self.stem == "imagenet" else -1))

    def derived_resolution(self) -> int:
        return 224 if self.stem == "imagenet" else 32

    def derived_values(self) -> dict[str, Any]:
        return super().derived_values() | {"blocks": self.block_layout}

    @classmethod
    def options_for(cls, name: str, values: Mapping[str, Any]) -> tuple[Any, ...] | None:
        if name == "depth":
            if values.get("stem", "imagenet") == "imagenet":
                return tuple(IMAGENET_BLOCKS)
            return tuple(range(10, 401, 6))
        return super().options_for(name, values)

    def validate(self) -> None:
        if self.blocks is not None:
            if len(self.blocks) > 6:
                raise ConfigError("blocks: at most 6 dense blocks")
            return
        if self.stem == "imagenet" and self.depth not in IMAGENET_BLOCKS:
            raise ConfigError(
                f"depth={self.depth} is not an ImageNet DenseNet; allowed: "
                + ", ".join(map(str, IMAGENET_BLOCKS))
                + " (or give blocks=6-12-24-16, or stem=cifar)"
            )
        if self.stem == "cifar" and ((self.depth - 4) % 6 != 0 or self.depth < 10):
            raise ConfigError(f"depth={self.depth} with stem=cifar must be 6n+4, e.g. 40, 100, 190")


for _depth in (121, 161, 169, 201):
    register_preset(f"densenet{_depth}", f"family=densenet&depth={_depth}" + ("&k=48" if _depth == 161 else ""))
register_preset("densenet264", "family=densenet&depth=264")
register_preset("densenet_bc_100", "family=densenet&stem=cifar&depth=100&k=12&classes=10")
