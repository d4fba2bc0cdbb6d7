"""Helpers the family builders share."""

from __future__ import annotations

from torch import nn

from explorer.families.base import BuiltModel, Stage, register_builder

__all__ = ["BuiltModel", "Stage", "register_builder", "replace_first_conv_in_channels"]


def replace_first_conv_in_channels(model: nn.Module, in_channels: int) -> None:
    """Give the first Conv2d ``in_channels`` inputs (torchvision constructors fix 3)."""
    if in_channels == 3:
        return
    for parent in model.modules():
        for name, child in parent.named_children():
            if isinstance(child, nn.Conv2d):
                setattr(
                    parent,
                    name,
                    nn.Conv2d(
                        in_channels,
                        child.out_channels,
                        child.kernel_size,  # type: ignore[arg-type]  # a Conv2d's own 2-tuple
                        child.stride,  # type: ignore[arg-type]  # a Conv2d's own 2-tuple
                        child.padding,  # type: ignore[arg-type]  # a Conv2d's own 2-tuple
                        child.dilation,  # type: ignore[arg-type]  # a Conv2d's own 2-tuple
                        child.groups,
                        child.bias is not None,
                    ),
                )
                return
    raise ValueError("model has no Conv2d")
