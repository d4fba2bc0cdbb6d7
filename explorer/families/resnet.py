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

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet, conv1x1, conv3x3

from explorer.compound import KnobScaling, Multipliers, clamp, nearest, rounded
from explorer.config import ConfigError, ModelConfig, knob, register_family, register_preset
from explorer.families.base import BuiltModel, Stage, register_builder, replace_first_conv_in_channels
from explorer.families.deformable import DeformableConv2d

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


@register_family
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
    def min_resolution(self) -> int:  # type: ignore[override]
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
            chosen = {"basic": basic, "bottleneck": bottleneck}.get(block, basic | bottleneck)
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


def _no_norm(num_features: int) -> nn.Module:
    return nn.Identity()


class PlainBasicBlock(BasicBlock):
    """BasicBlock without its shortcut: the paper's plain counterpart."""

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)))


class PlainBottleneck(Bottleneck):
    """Bottleneck without its shortcut."""

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.relu(self.bn3(self.conv3(out)))


class PreActBasicBlock(nn.Module):
    """BN-ReLU-conv3x3 twice; the shortcut (projection if any) takes the pre-activated input."""

    expansion = 1

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        groups: int = 1,
        base_width: int = 64,
        dilation: int = 1,
        norm_layer: Any = None,
    ) -> None:
        super().__init__()
        norm_layer = norm_layer or nn.BatchNorm2d
        self.bn1 = norm_layer(inplanes)
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn2 = norm_layer(planes)
        self.conv2 = conv3x3(planes, planes)
        self.relu = nn.ReLU(inplace=False)
        self.downsample = downsample
        self.skip = True

    def residual(self, preact: Tensor) -> Tensor:
        return self.conv2(self.relu(self.bn2(self.conv1(preact))))

    def forward(self, x: Tensor) -> Tensor:
        preact = self.relu(self.bn1(x))
        out = self.residual(preact)
        if not self.skip:
            return out
        shortcut = self.downsample(preact) if self.downsample is not None else x
        return out + shortcut


class PreActBottleneck(PreActBasicBlock):
    """BN-ReLU-conv1x1, BN-ReLU-conv3x3, BN-ReLU-conv1x1 (ResNet-164/1001 on CIFAR)."""

    expansion = 4

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        groups: int = 1,
        base_width: int = 64,
        dilation: int = 1,
        norm_layer: Any = None,
    ) -> None:
        nn.Module.__init__(self)
        norm_layer = norm_layer or nn.BatchNorm2d
        width = int(planes * (base_width / 64.0)) * groups
        self.bn1 = norm_layer(inplanes)
        self.conv1 = conv1x1(inplanes, width)
        self.bn2 = norm_layer(width)
        self.conv2 = conv3x3(width, width, stride, groups, dilation)
        self.bn3 = norm_layer(width)
        self.conv3 = conv1x1(width, planes * self.expansion)
        self.relu = nn.ReLU(inplace=False)
        self.downsample = downsample
        self.skip = True

    def residual(self, preact: Tensor) -> Tensor:
        out = self.conv1(preact)
        out = self.conv2(self.relu(self.bn2(out)))
        return self.conv3(self.relu(self.bn3(out)))


class PadShortcut(nn.Module):
    """The CIFAR ResNets' parameter-free "option A" shortcut: subsample, then zero-pad channels."""

    def __init__(self, out_channels: int, stride: int) -> None:
        super().__init__()
        self.out_channels = out_channels
        self.stride = stride

    def forward(self, x: Tensor) -> Tensor:
        x = x[:, :, :: self.stride, :: self.stride]
        extra = self.out_channels - x.shape[1]
        return F.pad(x, (0, 0, 0, 0, extra // 2, extra - extra // 2))


class ExplorerResNet(ResNet):
    """torchvision's ResNet built from a :class:`ResNetConfig` (same names, same forward)."""

    def __init__(self, cfg: ResNetConfig) -> None:
        nn.Module.__init__(self)
        block_type = cfg.block_type
        block: Any
        if cfg.preact:
            block = PreActBasicBlock if block_type == "basic" else PreActBottleneck
        elif cfg.skip:
            block = BasicBlock if block_type == "basic" else Bottleneck
        else:
            block = PlainBasicBlock if block_type == "basic" else PlainBottleneck
        norm = nn.BatchNorm2d if cfg.bn else _no_norm
        self._norm_layer = norm
        width = cfg.base_width
        self.inplanes = width
        self.dilation = 1
        self.groups = cfg.groups
        self.base_width = cfg.width_per_group
        if cfg.stem == "imagenet":
            self.conv1 = nn.Conv2d(3, width, kernel_size=7, stride=2, padding=3, bias=False)
            self.maxpool: nn.Module = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        else:
            self.conv1 = nn.Conv2d(3, width, kernel_size=3, stride=1, padding=1, bias=False)
            self.maxpool = nn.Identity()
        # A CIFAR pre-activation net leaves the stem bare: the first block activates it.
        self.bn1 = _no_norm(width) if (cfg.preact and cfg.stem == "cifar") else norm(width)
        self.relu = nn.ReLU(inplace=True)
        for index, blocks in enumerate(cfg.stage_blocks):
            layer = self._make_layer(block, width * 2**index, blocks, stride=1 if index == 0 else 2)
            setattr(self, f"layer{index + 1}", layer)
        if cfg.num_stages == 3:
            self.layer4 = nn.Sequential()
        out_channels = width * 2 ** (cfg.num_stages - 1) * block.expansion
        self.final_norm = norm(out_channels) if cfg.preact else nn.Identity()
        self.final_relu = nn.ReLU(inplace=True) if cfg.preact else nn.Identity()
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(out_channels, cfg.classes)

        for m in self.modules():  # torchvision's initialisation
            if isinstance(m, nn.Conv2d) and m.weight.device.type != "meta":  # meta: no values (and slow)
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)

        self._adjust_shortcuts(cfg)
        for stage in cfg.deform:
            _make_deformable(getattr(self, f"layer{stage}"), cfg.modulated)
        replace_first_conv_in_channels(self, cfg.in_channels)

    def _adjust_shortcuts(self, cfg: ResNetConfig) -> None:
        for stage in range(1, cfg.num_stages + 1):
            for blk in getattr(self, f"layer{stage}"):
                if not cfg.skip:
                    blk.downsample = None  # a plain net has no shortcut to project
                    if cfg.preact:
                        blk.skip = False
                elif cfg.stem == "cifar" and cfg.block_type == "basic" and blk.downsample is not None:
                    blk.downsample = PadShortcut(blk.conv2.out_channels, blk.conv1.stride[0])

    def _forward_impl(self, x: Tensor) -> Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = self.final_relu(self.final_norm(x))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def _make_deformable(layer: nn.Module, modulated: bool = False) -> None:
    """Swap every 3x3 conv inside ``layer`` for a DeformableConv2d with the same weights."""
    for parent in list(layer.modules()):
        for name, child in list(parent.named_children()):
            if type(child) is nn.Conv2d and child.kernel_size == (3, 3):
                setattr(parent, name, DeformableConv2d.from_conv(child, modulated))


@register_builder(ResNetConfig)
def build_resnet(cfg: ResNetConfig) -> BuiltModel:  # type: ignore[override]
    model = ExplorerResNet(cfg)
    stages = [Stage("stem", ("conv1", "bn1", "relu", "maxpool"))]
    for index in range(1, cfg.num_stages + 1):
        layer = getattr(model, f"layer{index}")
        stages.append(Stage(f"stage{index}", (f"layer{index}",), tuple(f"layer{index}.{i}" for i in range(len(layer)))))
    if cfg.num_stages == 3:
        stages[-1] = Stage(stages[-1].name, (*stages[-1].modules, "layer4"), stages[-1].blocks)
    stages.append(Stage("head", ("final_norm", "final_relu", "avgpool", "fc")))
    return BuiltModel(cfg, model, tuple(stages))


for _depth in (18, 34, 50, 101, 152):
    register_preset(f"resnet{_depth}", f"family=resnet&depth={_depth}")
register_preset("wide_resnet50_2", "family=resnet&depth=50&width_per_group=128")
register_preset("resnext50_32x4d", "family=resnet&depth=50&groups=32&width_per_group=4")
for _depth in (20, 32, 44, 56, 110, 1202):
    register_preset(f"resnet{_depth}", f"family=resnet&stem=cifar&depth={_depth}&classes=10")
register_preset("preact_resnet164", "family=resnet&stem=cifar&depth=164&block=bottleneck&preact=on&classes=10")
register_preset("preact_resnet1001", "family=resnet&stem=cifar&depth=1001&preact=on&classes=10")
