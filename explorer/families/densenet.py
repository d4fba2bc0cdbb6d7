"""DenseNet family from torchvision's ``_DenseBlock`` and ``_Transition`` (same module names as
``torchvision.models.DenseNet``); written out here only to add the compression factor and the
CIFAR stem (DenseNet-BC: 3 blocks of (depth-4)/6 layers, 2k initial features), which
torchvision's constructor hard-codes away."""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.models.densenet import _DenseBlock, _Transition

from explorer.compound import KnobScaling, Multipliers, clamp, rounded
from explorer.config import ConfigError, ModelConfig, knob, register_family, register_preset
from explorer.families.base import BuiltModel, Stage, register_builder, replace_first_conv_in_channels

#: ImageNet layouts from the DenseNet paper (Table 1); 161 is k=48.
IMAGENET_BLOCKS: dict[int, tuple[int, ...]] = {
    121: (6, 12, 24, 16),
    161: (6, 12, 36, 24),
    169: (6, 12, 32, 32),
    201: (6, 12, 48, 32),
    264: (6, 12, 64, 48),
}


@register_family
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
    def min_resolution(self) -> int:  # type: ignore[override]
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


class ExplorerDenseNet(nn.Module):
    """Same layout and names as torchvision.models.DenseNet (features.*, classifier)."""

    def __init__(self, cfg: DenseNetConfig) -> None:
        super().__init__()
        features = 2 * cfg.k
        if cfg.stem == "imagenet":
            stem = [
                ("conv0", nn.Conv2d(3, features, kernel_size=7, stride=2, padding=3, bias=False)),
                ("norm0", nn.BatchNorm2d(features)),
                ("relu0", nn.ReLU(inplace=True)),
                ("pool0", nn.MaxPool2d(kernel_size=3, stride=2, padding=1)),
            ]
        else:
            stem = [("conv0", nn.Conv2d(3, features, kernel_size=3, padding=1, bias=False))]
        self.features = nn.Sequential(OrderedDict(stem))
        layout = cfg.block_layout
        for i, num_layers in enumerate(layout):
            block = _DenseBlock(num_layers, features, cfg.bn_size, cfg.k, drop_rate=0.0)
            self.features.add_module(f"denseblock{i + 1}", block)
            features += num_layers * cfg.k
            if i != len(layout) - 1:
                out = max(1, math.floor(features * cfg.compression))
                self.features.add_module(f"transition{i + 1}", _Transition(features, out))
                features = out
        self.features.add_module(f"norm{len(layout) + 1}", nn.BatchNorm2d(features))
        self.classifier = nn.Linear(features, cfg.classes)
        for m in self.modules():  # torchvision's initialisation
            if isinstance(m, nn.Conv2d) and m.weight.device.type != "meta":  # meta: no values (and slow)
                nn.init.kaiming_normal_(m.weight)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.Linear):
                nn.init.constant_(m.bias, 0)
        replace_first_conv_in_channels(self, cfg.in_channels)

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.features(x), inplace=True)
        out = torch.flatten(F.adaptive_avg_pool2d(out, (1, 1)), 1)
        return self.classifier(out)


@register_builder(DenseNetConfig)
def build_densenet(cfg: DenseNetConfig) -> BuiltModel:  # type: ignore[override]
    model = ExplorerDenseNet(cfg)
    stem_names = ("conv0", "norm0", "relu0", "pool0") if cfg.stem == "imagenet" else ("conv0",)
    stages = [Stage("stem", tuple(f"features.{n}" for n in stem_names))]
    layout = cfg.block_layout
    for i, num_layers in enumerate(layout, start=1):
        modules = [f"features.denseblock{i}"] + ([f"features.transition{i}"] if i < len(layout) else [])
        blocks = tuple(f"features.denseblock{i}.denselayer{j}" for j in range(1, num_layers + 1))
        stages.append(Stage(f"block{i}", tuple(modules), blocks))
    stages.append(Stage("head", (f"features.norm{len(layout) + 1}", "classifier")))
    return BuiltModel(cfg, model, tuple(stages))


for _depth in (121, 161, 169, 201):
    register_preset(f"densenet{_depth}", f"family=densenet&depth={_depth}" + ("&k=48" if _depth == 161 else ""))
register_preset("densenet264", "family=densenet&depth=264")
register_preset("densenet_bc_100", "family=densenet&stem=cifar&depth=100&k=12&classes=10")
