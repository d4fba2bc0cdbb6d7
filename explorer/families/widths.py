"""Width multipliers for torchvision's hand-written networks (AlexNet, GoogLeNet, Inception-v3).

Their constructors hard-code every channel count, but GoogLeNet and Inception-v3 build all their
convs through one ``conv_block(in_channels, out_channels, **kwargs)`` callable. Passing a factory
that multiplies *both* counts by the width scales the whole network while keeping torchvision's
classes and module names. Concatenations stay consistent only if scaling is exact (a x w + b x w =
(a + b) x w), so widths are quarters and every channel count of these networks is a multiple of 8:
scaled counts are whole numbers, never rounded.
"""

from __future__ import annotations

from typing import Any

from explorer.compound import KnobScaling, Multipliers, nearest, not_scaled

#: The widths offered: quarters, so that every channel count of these networks scales exactly.
QUARTER_WIDTHS = (0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0)
#: The input channels torchvision writes into the first conv of these networks.
IMAGE_CHANNELS = 3


def scale(channels: int, width: float) -> int:
    """``channels x width``, which must be a whole number (see the module docstring)."""
    scaled = channels * width
    if not float(scaled).is_integer():
        raise ValueError(f"{channels} channels x width {width} is not a whole number")
    return int(scaled)


def scale_quarter_width(config: Any, m: Multipliers) -> KnobScaling:
    """How these networks scale: ``width`` to the nearest quarter; their layer lists are fixed."""
    width = nearest(QUARTER_WIDTHS, config.width * m.width)
    fixed = not_scaled(config.family, m, ("depth",), f"{config.title} has a fixed layer list (no depth knob)")
    notes = fixed.notes
    if m.width != 1.0:
        notes += (f"width: {config.width:g} x {m.width:.3g}; nearest allowed width (quarters) is {width:g}",)
    return KnobScaling({"width": width}, 1.0, width / config.width, notes, fixed.unapplied)
