"""FLOP formulas that ``torch.utils.flop_counter`` lacks.

Counting convention (the whole project's): MACs are multiply-adds at batch 1 and FLOPs = 2 x MACs.
Convolutions, linear layers and matrix products count; batch norm, activations, pooling and
additions count zero (torchvision's published GFLOPS use the same rule).

A deformable 3x3 conv (``torchvision::deform_conv2d``) counts as
``regular conv MACs + bilinear sampling MACs (+ mask MACs)``, where
- regular conv = B x C_out x H_out x W_out x (C_in / groups) x kh x kw,
- bilinear sampling = 4 x B x C_in x kh x kw x H_out x W_out (four weighted taps per sample),
- modulation (DCNv2 only) = B x C_in x kh x kw x H_out x W_out (one multiply per sample).
The offset conv that predicts the offsets is an ordinary conv and is counted as such.
FlopCounterMode (and fvcore) would count the op as zero.
"""

from __future__ import annotations

from typing import Any

import torch
import torchvision  # noqa: F401  (registers torch.ops.torchvision)
from torch.utils.flop_counter import flop_registry, register_flop_formula


def deform_conv2d_macs(
    x_shape: tuple[int, ...], w_shape: tuple[int, ...], out_shape: tuple[int, ...], use_mask: bool
) -> int:
    """Multiply-adds of one deformable conv, by the formula in this module's docstring."""
    batch, c_in = x_shape[0], x_shape[1]
    c_out, c_in_per_group, kh, kw = w_shape
    h_out, w_out = out_shape[2], out_shape[3]
    samples = batch * c_in * kh * kw * h_out * w_out
    conv = batch * c_out * h_out * w_out * c_in_per_group * kh * kw
    return conv + 4 * samples + (samples if use_mask else 0)


def _deform_conv2d_flop(
    x_shape: Any,
    w_shape: Any,
    offset_shape: Any,
    mask_shape: Any,
    bias_shape: Any,
    *args: Any,
    out_shape: Any = None,
    **kwargs: Any,
) -> int:
    use_mask = bool(args[-1]) if args else False
    return 2 * deform_conv2d_macs(tuple(x_shape), tuple(w_shape), tuple(out_shape), use_mask)


if torch.ops.torchvision.deform_conv2d not in flop_registry:
    register_flop_formula(torch.ops.torchvision.deform_conv2d)(_deform_conv2d_flop)

__all__ = ["deform_conv2d_macs"]
