"""Deformable convolution that owns its offset predictor (Dai et al., 2017; DCNv2 mask optional).

torchvision ships the sampling kernel (``torchvision.ops.DeformConv2d``) but leaves the offsets to
the caller; the paper's layer predicts them with a parallel conv, which is what this module adds.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torchvision.ops import DeformConv2d


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
        nn.init.zeros_(self.offset_conv.bias)
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
            conv.kernel_size,  # type: ignore[arg-type]
            conv.stride,  # type: ignore[arg-type]
            conv.padding,  # type: ignore[arg-type]
            conv.dilation,  # type: ignore[arg-type]
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
        return super().forward(input, offset, mask)

    def extra_repr(self) -> str:
        return super().extra_repr() + (", modulated=True" if self.modulated else "")
