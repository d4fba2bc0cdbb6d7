"""Deformable convolution that owns its offset predictor (Dai et al., 2017; DCNv2 mask optional).

torchvision ships the sampling kernel (``torchvision.ops.DeformConv2d``) but leaves the offsets to
the caller; the paper's layer predicts them with a parallel conv, which is what this module adds.

It also adds a second way to compute the same op, :func:`sampled_deform_conv2d`: every kernel tap
bilinearly sampled with ``F.grid_sample``, then one matrix product with the weights. Hand-written
because torchvision's CPU kernel (an im2col loop per image) is the bottleneck of CPU training: one
3x3 layer, 16->16 channels at 32x32, batch 64, forward + backward took 947 ms with it against 129 ms
sampled, and a training step of ``family=plain&depth=8&deform=on`` 3.8 s against 0.52 s (1 thread,
``bench/bench_training.py``, figures in ``bench/README.md``). torchvision's op stays the reference
(``tests/test_deform_sampling.py`` compares outputs and all gradients) and the kernel used on CUDA;
:func:`uses_sampling` is the rule that picks one.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils._python_dispatch import _get_current_dispatch_mode  # private, but no public query exists
from torchvision.ops import DeformConv2d, deform_conv2d

__all__ = ["BACKENDS", "Backend", "DeformableConv2d", "sampled_deform_conv2d", "set_backend", "uses_sampling"]

#: ``auto``: :func:`uses_sampling` decides per call; ``torchvision``: always its op; ``sampling``:
#: always :func:`sampled_deform_conv2d`.
Backend = Literal["auto", "torchvision", "sampling"]
BACKENDS: tuple[Backend, ...] = ("auto", "torchvision", "sampling")


def uses_sampling(device: torch.device) -> bool:
    """Whether ``backend="auto"`` computes a deformable conv on ``device`` with the sampling path.

    CPU: yes. Measured here (1 thread): forward + backward 1.8x (512 channels at 7x7, batch 8) to
    7x (16 channels at 32x32, batch 64) faster; forward alone 1.2x-3.7x (batch 1 to 64), never slower
    beyond noise; whole training steps 4.6-7.4x (``bench/bench_training.py``).
    CUDA and every other device: no, torchvision's kernel (one fused kernel per pass; no GPU was at
    hand to measure the sampling path there, so torchvision's op stays until a measure says
    otherwise). Also no while a ``TorchDispatchMode`` such as ``FlopCounterMode`` is active: the
    project's FLOP formula is registered for ``torchvision::deform_conv2d``, so a profile of a real
    CPU model counts the op by that formula rather than as a matmul.
    """
    return device.type == "cpu" and _get_current_dispatch_mode() is None


def _pair(value: int | tuple[int, ...]) -> tuple[int, int]:
    if isinstance(value, int):
        return value, value
    return int(value[0]), int(value[1])


def _power_of_two_at_least(n: int) -> int:
    return 1 << max(n - 1, 0).bit_length()


def sampled_deform_conv2d(
    input: Tensor,
    offset: Tensor,
    weight: Tensor,
    bias: Tensor | None = None,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    dilation: int | tuple[int, int] = 1,
    mask: Tensor | None = None,
) -> Tensor:
    """``torchvision.ops.deform_conv2d`` computed as bilinear sampling + one matrix product.

    Same arguments, layouts and result as torchvision's op (differentiable in every tensor):
        input  ``(B, C_in, H, W)``
        offset ``(B, 2*offset_groups*kh*kw, H_out, W_out)``: for offset group ``g`` and kernel
               tap ``t`` (row-major), channels ``2*(g*kh*kw + t)`` and ``+1`` hold ``(dy, dx)``
        weight ``(C_out, C_in/groups, kh, kw)``
        bias   ``(C_out,)`` or None
        mask   ``(B, offset_groups*kh*kw, H_out, W_out)`` or None (DCNv1)
        output ``(B, C_out, H_out, W_out)``, of the input's dtype (computed in float32 at least)
    Tap ``(a, b)`` of output ``(i, j)`` reads the input at ``y = i*stride_h - pad_h + a*dil_h + dy``,
    ``x = j*stride_w - pad_w + b*dil_w + dx`` by bilinear interpolation, pixels outside the image
    counting zero, times the mask when there is one. Gradients are those of that interpolation, with
    the corner pixels ``floor(y), floor(y) + 1`` (so a one-sided derivative at integer coordinates),
    exactly what torchvision's kernels compute, including at and beyond the border.

    Where bilinear interpolation has its kinks, at integer coordinates (the regular grid that
    zero-initialised offsets start from), normalising to grid_sample's [-1, 1] and back must not
    round 3.0 down to 2.9999998, which would flip the derivative to the other side: the input is
    therefore zero-padded to power-of-two sides (a no-op for 8, 16, 32, 64 px maps), for which the
    round trip is exact.
    """
    b, c_in, h, w = input.shape
    c_out, c_per_group, kh, kw = weight.shape
    taps = kh * kw
    if c_per_group == 0 or c_in % c_per_group or c_out % (c_in // c_per_group):
        raise ValueError(f"weight {tuple(weight.shape)} does not divide input channels {c_in} into groups")
    groups = c_in // c_per_group
    offset_groups = offset.shape[1] // (2 * taps)
    if offset_groups == 0 or offset.shape[1] != 2 * taps * offset_groups or c_in % offset_groups:
        raise ValueError(f"offset {tuple(offset.shape)} does not fit a {kh}x{kw} kernel over {c_in} channels")
    h_out, w_out = offset.shape[2], offset.shape[3]
    (sh, sw), (ph, pw), (dh, dw) = _pair(stride), _pair(padding), _pair(dilation)
    if h_out != (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1 or w_out != (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1:
        raise ValueError(f"offset {tuple(offset.shape)} does not match the output size of this conv")
    if mask is not None and mask.shape != (b, offset_groups * taps, h_out, w_out):
        raise ValueError(f"mask {tuple(mask.shape)}; expected {(b, offset_groups * taps, h_out, w_out)}")

    hp, wp = _power_of_two_at_least(h), _power_of_two_at_least(w)
    # Sampling points in float32 at least: in bfloat16 (autocast) 31 + 0.3 would round to 31.25.
    work = torch.promote_types(torch.promote_types(input.dtype, offset.dtype), torch.float32)
    x = input.to(work) if (hp, wp) == (h, w) else F.pad(input.to(work), (0, wp - w, 0, hp - h))
    kwargs: dict[str, Any] = {"device": input.device, "dtype": work}
    # Sampling points straight in grid_sample's coordinates (align_corners=False: pixel index p of a
    # side n is (2p + 1) / n - 1), as regular grid + offset * 2/n, laid out (dy, dx) like the offsets.
    rows = torch.arange(kh, **kwargs).repeat_interleave(kw) * dh  # (taps,) tap row offsets
    cols = torch.arange(kw, **kwargs).repeat(kh) * dw
    base_y = (torch.arange(h_out, **kwargs) * sh - ph).view(1, h_out, 1) + rows.view(taps, 1, 1)
    base_x = (torch.arange(w_out, **kwargs) * sw - pw).view(1, 1, w_out) + cols.view(taps, 1, 1)
    size = (taps, h_out, w_out)
    base = torch.stack([((2 * base_y + 1) / hp - 1).expand(size), ((2 * base_x + 1) / wp - 1).expand(size)], dim=1)
    # base: (taps, 2, H_out, W_out)
    scale = torch.tensor([2.0 / hp, 2.0 / wp], **kwargs).view(1, 1, 1, 2, 1, 1)
    points = torch.addcmul(base, offset.to(work).view(b, offset_groups, taps, 2, h_out, w_out), scale)
    # grid_sample wants (B*og, taps*H_out, W_out, 2) with (x, y) last: one permuting copy, no stack.
    grid = points.permute(0, 1, 2, 4, 5, 3).flip(-1).reshape(b * offset_groups, taps * h_out, w_out, 2)
    sampled = F.grid_sample(
        x.reshape(b * offset_groups, c_in // offset_groups, hp, wp),
        grid,
        mode="bilinear",
        padding_mode="zeros",
        align_corners=False,
    )  # (B*og, C_in/og, taps*H_out, W_out)
    sampled = sampled.view(b, offset_groups, c_in // offset_groups, taps, h_out * w_out)
    if mask is not None:
        sampled = sampled * mask.to(work).view(b, offset_groups, 1, taps, h_out * w_out)
    columns = sampled.reshape(b, groups, c_per_group * taps, h_out * w_out)  # channel-major, as weight
    out = torch.matmul(weight.to(work).reshape(groups, c_out // groups, c_per_group * taps), columns)
    out = out.reshape(b, c_out, h_out, w_out)
    if bias is not None:
        out = out + bias.to(work).view(1, c_out, 1, 1)
    return out.to(input.dtype)  # torchvision's op returns the input's dtype


class DeformableConv2d(DeformConv2d):
    """A ``DeformConv2d`` whose offsets (and optional modulation mask) come from its own conv.

    ``offset_conv`` has the same kernel, stride, padding and dilation as the main conv and
    ``2*kh*kw`` output channels (``3*kh*kw`` with ``modulated=True``: offsets then mask logits),
    zero-initialised, so a fresh layer samples the regular grid and equals a plain conv (with
    ``modulated=True`` the initial mask is sigmoid(0) = 0.5 everywhere, as in DCNv2).

    Shapes: input ``(B, C_in, H, W)``; offsets ``(B, 2*kh*kw, H_out, W_out)`` laid out as
    torchvision expects, pairs ``(dy, dx)`` for each kernel tap in row-major order; output
    ``(B, C_out, H_out, W_out)``. Parameter names ``weight``/``bias`` match ``nn.Conv2d``, so a
    regular conv's pretrained weights load into it (the ``offset_conv.*`` keys are extra).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int] = 3,
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] = 1,
        dilation: int | tuple[int, int] = 1,
        groups: int = 1,
        bias: bool = False,
        modulated: bool = False,
    ) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias)
        kh, kw = self.kernel_size
        self.modulated = modulated
        self.offset_conv = nn.Conv2d(
            in_channels,
            (3 if modulated else 2) * kh * kw,
            self.kernel_size,
            self.stride,
            self.padding,
            self.dilation,
            bias=True,
        )
        nn.init.zeros_(self.offset_conv.weight)
        nn.init.zeros_(self.offset_conv.bias)  # type: ignore[arg-type]  # made with bias=True above
        #: Which computation forward uses (see :data:`BACKENDS`); not state, so state dicts are unchanged.
        self.backend: Backend = "auto"
        #: When True, forward keeps the last offsets (and mask) for plotting, detached.
        self.keep_offsets = False
        self.last_offsets: Tensor | None = None
        self.last_mask: Tensor | None = None

    @classmethod
    def from_conv(cls, conv: nn.Conv2d, modulated: bool = False) -> DeformableConv2d:
        """A deformable conv with ``conv``'s geometry and (unless on meta) its weights."""
        layer = cls(
            conv.in_channels,
            conv.out_channels,
            conv.kernel_size,  # type: ignore[arg-type]  # a Conv2d's own 2-tuple
            conv.stride,  # type: ignore[arg-type]  # a Conv2d's own 2-tuple
            conv.padding,  # type: ignore[arg-type]  # a Conv2d's own 2-tuple
            conv.dilation,  # type: ignore[arg-type]  # a Conv2d's own 2-tuple
            conv.groups,
            conv.bias is not None,
            modulated,
        ).to(conv.weight.device)
        if conv.weight.device.type != "meta":
            with torch.no_grad():
                layer.weight.copy_(conv.weight)
                if conv.bias is not None and layer.bias is not None:
                    layer.bias.copy_(conv.bias)
        return layer

    def offsets_and_mask(self, x: Tensor) -> tuple[Tensor, Tensor | None]:
        kk = self.kernel_size[0] * self.kernel_size[1]
        raw = self.offset_conv(x)
        if not self.modulated:
            return raw, None
        return raw[:, : 2 * kk], torch.sigmoid(raw[:, 2 * kk :])

    def forward(self, input: Tensor, offset: Tensor | None = None, mask: Tensor | None = None) -> Tensor:
        if offset is None:
            offset, mask = self.offsets_and_mask(input)
        if self.keep_offsets:
            self.last_offsets = offset.detach()
            self.last_mask = None if mask is None else mask.detach()
        if self.backend == "sampling" or (self.backend == "auto" and uses_sampling(input.device)):
            op = sampled_deform_conv2d
        else:
            op = deform_conv2d
        return op(input, offset, self.weight, self.bias, self.stride, self.padding, self.dilation, mask)

    def extra_repr(self) -> str:
        return super().extra_repr() + (", modulated=True" if self.modulated else "")


def set_backend(model: nn.Module, backend: Backend) -> int:
    """Set ``backend`` on every :class:`DeformableConv2d` in ``model``; returns how many there are."""
    if backend not in BACKENDS:
        raise ValueError(f"backend '{backend}'; allowed: {', '.join(BACKENDS)}")
    layers = [m for m in model.modules() if isinstance(m, DeformableConv2d)]
    for layer in layers:
        layer.backend = backend
    return len(layers)
