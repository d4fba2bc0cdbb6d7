"""The torch modules and builder of the ``blocks`` family.

Its config, knobs and presets are :mod:`explorer.families.blocks`, which imports no torch.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torchvision.models.densenet import _DenseBlock, _Transition
from torchvision.models.googlenet import BasicConv2d, Inception
from torchvision.models.resnet import BasicBlock, Bottleneck, conv1x1
from torchvision.ops import SqueezeExcitation
from torchvision.ops.misc import Conv2dNormActivation

from explorer.families.blocks import BlocksConfig, Trace
from explorer.families.nets.base import BuiltModel, Stage, register_builder
from explorer.families.nets.deformable import DeformableConv2d

_ACTIVATIONS: dict[str, Any] = {"relu": nn.ReLU, "silu": nn.SiLU, "linear": None}


class MBConv(nn.Module):
    """The material's MBConv (it differs from torchvision's, and the counts follow it):

    [1x1 expansion conv + BN, only when expansion != 1], SiLU (applied either way), k x k depthwise
    conv (stride s, padding k//2) + BN + SiLU, squeeze-and-excitation (global mean, 1x1 conv with
    bias to ``max(1, in_channels * se // 100)``: the block's *input* channels, SiLU, 1x1 conv with
    bias back, sigmoid, multiply), 1x1 projection conv without bias + BN, no activation; residual
    add only when stride is 1 and input and output channels are equal.
    """

    def __init__(self, c_in: int, c_out: int, expansion: int, kernel: int, stride: int, se_percent: int) -> None:
        super().__init__()
        hidden = c_in * expansion
        self.expand = Conv2dNormActivation(c_in, hidden, 1, activation_layer=None) if expansion != 1 else None
        self.expand_act = nn.SiLU()
        self.depthwise = Conv2dNormActivation(
            hidden, hidden, kernel, stride, padding=kernel // 2, groups=hidden, activation_layer=nn.SiLU
        )
        squeeze = max(1, c_in * se_percent // 100)
        self.se = SqueezeExcitation(hidden, squeeze, activation=nn.SiLU) if se_percent > 0 else None
        self.project = Conv2dNormActivation(hidden, c_out, 1, activation_layer=None)
        self.use_residual = stride == 1 and c_in == c_out

    def forward(self, x: Tensor) -> Tensor:
        out = self.expand(x) if self.expand is not None else x
        out = self.depthwise(self.expand_act(out))
        if self.se is not None:
            out = self.se(out)
        out = self.project(out)
        return out + x if self.use_residual else out


class PaperInception(Inception):
    """torchvision's GoogLeNet Inception module with the paper's 5x5 conv in its third branch
    (torchvision keeps a 3x3 there for its weights' sake; the googlenet preset keeps that)."""

    def __init__(self, c_in: int, c1: int, r3: int, c3: int, r5: int, c5: int, pool: int) -> None:
        super().__init__(c_in, c1, r3, c3, r5, c5, pool)
        self.branch3[1] = BasicConv2d(r5, c5, kernel_size=5, padding=2)


class Separable(nn.Sequential):
    """Depthwise separable conv (MobileNetV1's layer, any odd kernel): ``dw`` then ``pw``."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int) -> None:
        super().__init__(
            OrderedDict(
                dw=Conv2dNormActivation(c_in, c_in, kernel, stride, groups=c_in),
                pw=Conv2dNormActivation(c_in, c_out, 1),
            )
        )


def _projection(c_in: int, c_out: int, stride: int) -> nn.Module | None:
    if stride == 1 and c_in == c_out:
        return None
    return nn.Sequential(conv1x1(c_in, c_out, stride), nn.BatchNorm2d(c_out))


class DeformBlock(nn.Sequential):
    """Deformable conv (its own offset conv), BN, ReLU: the modules ``conv``, ``bn``, ``relu``."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, modulated: bool) -> None:
        conv = DeformableConv2d(c_in, c_out, kernel, stride, kernel // 2, bias=False, modulated=modulated)
        super().__init__(OrderedDict(conv=conv, bn=nn.BatchNorm2d(c_out), relu=nn.ReLU(inplace=True)))


@dataclass(frozen=True)
class Call:
    """A module's constructor and its arguments, kept as data: :func:`make_block` calls it, and the
    exporter (:mod:`explorer.export.code`) writes it as code. An argument may itself be a Call."""

    fn: Callable[..., Any]
    args: tuple[Any, ...] = ()
    kwargs: tuple[tuple[str, Any], ...] = ()

    def build(self) -> Any:
        def value(v: Any) -> Any:
            return v.build() if isinstance(v, Call) else v

        return self.fn(*map(value, self.args), **{k: value(v) for k, v in self.kwargs})


def block_call(t: Trace) -> Call:
    """The constructor call of one block repeat (``t`` says its channels and stride)."""
    b, c_in, c_out, s = t.block, t.in_channels, t.out_channels, t.stride
    k = int(dict(b.options).get("k") or 3)
    if b.kind == "conv":
        bn = b.flag("bn") == "bn"
        kwargs = {
            "groups": int(b["g"] or 1),
            "norm_layer": nn.BatchNorm2d if bn else None,
            "activation_layer": _ACTIVATIONS[b.flag("act")],
        }
        return Call(Conv2dNormActivation, (c_in, c_out, k, s), tuple(kwargs.items()))
    if b.kind in ("res", "bottle"):
        projection = Call(_projection, (c_in, c_out, s)) if s != 1 or c_in != c_out else None
        if b.kind == "res":
            return Call(BasicBlock, (c_in, c_out, s, projection))
        return Call(Bottleneck, (c_in, c_out // 4, s, projection, int(b["g"] or 1), int(b["w"] or 64)))
    if b.kind == "dense":
        return Call(_DenseBlock, (int(b["l"] or 1), c_in, int(b["b"] or 4), int(b["k"] or 1)), (("drop_rate", 0.0),))
    if b.kind == "trans":
        return Call(_Transition, (c_in, c_out))
    if b.kind == "dw":
        return Call(Separable, (c_in, c_out, k, s))
    if b.kind == "mb":
        return Call(MBConv, (c_in, c_out, int(b["e"] or 1), k, s, int(b["se"] or 0)))
    if b.kind == "deform":
        return Call(DeformBlock, (c_in, c_out, k, s, b.flag("mask") == "mod"))
    if b.kind == "incep":
        return Call(PaperInception, (c_in, *b.channels))
    if b.kind in ("max", "avg"):
        kernel = int(b["k"] or 1)
        padding = b["p"] if b["p"] is not None else (kernel - 1) // 2
        return Call(nn.MaxPool2d if b.kind == "max" else nn.AvgPool2d, (kernel, s, int(padding)))
    raise AssertionError(f"no module for block kind {b.kind}")  # blockspec.KINDS and this list disagree


def make_block(t: Trace) -> nn.Module:
    """The module of one block repeat (``t`` says its channels and stride)."""
    return block_call(t).build()


class ComposedNet(nn.Module):
    """``stem`` (a Sequential), ``stage1``..``stageN`` (Sequentials of repeats), then the head:
    ``avgpool``, flatten, ``dropout``, ``fc``."""

    def __init__(
        self,
        stem: Sequence[nn.Module],
        stages: Sequence[Sequence[nn.Module]],
        out_channels: int,
        classes: int,
        dropout: float,
    ) -> None:
        super().__init__()
        self.stem = nn.Sequential(*stem)
        self.num_stages = len(stages)
        for index, repeats in enumerate(stages, start=1):
            self.add_module(f"stage{index}", nn.Sequential(*repeats))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(out_channels, classes)
        # Weights keep each module's own initialisation (PyTorch's defaults; offset convs at zero).

    def forward(self, x: Tensor) -> Tensor:
        x = self.stem(x)
        for index in range(1, self.num_stages + 1):
            x = getattr(self, f"stage{index}")(x)
        return self.fc(self.dropout(torch.flatten(self.avgpool(x), 1)))


def composed_calls(cfg: BlocksConfig) -> tuple[list[Call], list[list[Call]]]:
    """The constructor calls of the stem's blocks and of each stage's repeats."""
    layers = cfg.layers
    body = [t for t in layers if t.key == "blocks"]
    stages = [[block_call(t) for t in body if t.index == index] for index in range(1, max(t.index for t in body) + 1)]
    return [block_call(t) for t in layers if t.key == "stem"], stages


@register_builder(BlocksConfig)
def build_blocks(cfg: BlocksConfig) -> BuiltModel:
    stem, stages = composed_calls(cfg)
    model = ComposedNet(
        [c.build() for c in stem],
        [[c.build() for c in repeats] for repeats in stages],
        cfg.out_channels,
        cfg.classes,
        cfg.dropout,
    )
    layout = [Stage("stem", ("stem",))]
    for index in range(1, model.num_stages + 1):
        stage = getattr(model, f"stage{index}")
        layout.append(Stage(f"stage{index}", (f"stage{index}",), tuple(f"stage{index}.{j}" for j in range(len(stage)))))
    layout.append(Stage("head", ("avgpool", "dropout", "fc")))
    return BuiltModel(cfg, model, tuple(layout))
