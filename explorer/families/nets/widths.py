"""Width-scaled conv blocks for torchvision's hand-written networks (see :mod:`explorer.families.widths`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from explorer.families.widths import IMAGE_CHANNELS, scale


def scaled_conv_block(block: Callable[..., nn.Module], width: float, in_channels: int) -> Callable[..., nn.Module]:
    """A ``conv_block`` that builds ``block`` with both channel counts x ``width``; the image input
    (torchvision's 3) becomes ``in_channels``. Only the first conv of these networks reads the image."""

    def make(c_in: int, c_out: int, **kwargs: Any) -> nn.Module:
        actual_in = in_channels if c_in == IMAGE_CHANNELS else scale(c_in, width)
        return block(actual_in, scale(c_out, width), **kwargs)

    return make
