"""The torch modules and builder of the ``resnet`` family.

Its config, knobs and presets are :mod:`explorer.families.resnet`, which imports no torch.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet, conv1x1, conv3x3

from explorer.families.nets.base import BuiltModel, Stage, register_builder, replace_first_conv_in_channels
from explorer.families.nets.deformable import DeformableConv2d
from explorer.families.resnet import ResNetConfig


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
def build_resnet(cfg: ResNetConfig) -> BuiltModel:
    model = ExplorerResNet(cfg)
    stages = [Stage("stem", ("conv1", "bn1", "relu", "maxpool"))]
    for index in range(1, cfg.num_stages + 1):
        layer = getattr(model, f"layer{index}")
        stages.append(Stage(f"stage{index}", (f"layer{index}",), tuple(f"layer{index}.{i}" for i in range(len(layer)))))
    if cfg.num_stages == 3:
        stages[-1] = Stage(stages[-1].name, (*stages[-1].modules, "layer4"), stages[-1].blocks)
    stages.append(Stage("head", ("final_norm", "final_relu", "avgpool", "fc")))
    return BuiltModel(cfg, model, tuple(stages))
