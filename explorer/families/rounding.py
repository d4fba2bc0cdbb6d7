"""Channel rounding shared by the mobile families: torchvision's own ``_make_divisible``."""

from torchvision.models._utils import _make_divisible


def make_divisible(value: float, divisor: int = 8) -> int:
    """Round ``value`` to the nearest multiple of ``divisor``, never below 90% of it
    (the rule of the TensorFlow MobileNet and EfficientNet code, as torchvision applies it)."""
    return _make_divisible(value, divisor)
