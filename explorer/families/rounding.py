"""Channel rounding shared by the mobile families: the rule of torchvision's ``_make_divisible``.

Written out (six lines) instead of imported so that configs, their parsing and their scaling import
no torch: the app's first page draws before torch is imported. ``tests/test_families.py`` checks it
against torchvision's own function.
"""


def make_divisible(value: float, divisor: int = 8) -> int:
    """Round ``value`` to the nearest multiple of ``divisor``, never below 90% of it
    (the rule of the TensorFlow MobileNet and EfficientNet code, as torchvision applies it)."""
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:  # rounding down must not lose more than 10%
        rounded += divisor
    return rounded
