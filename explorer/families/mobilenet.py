"""MobileNet families. V2 and V3 are torchvision's classes; V1 is written here because
torchvision has none (Howard et al., 2017: a 3x3 conv, 13 depthwise-separable layers, pool, FC)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from explorer.compound import KnobScaling, Multipliers, clamp, not_scaled, rounded
from explorer.knobs import ModelConfig, knob, register_preset


def _alpha_knob() -> float:
    return knob(
        1.0,
        "float",
        "width multiplier: every layer's channels x alpha (rounded to a multiple of 8)",
        minimum=0.1,
        maximum=3.0,
        step=0.05,
    )


class _WidthMultiplied(ModelConfig):
    """The MobileNets scale by their width multiplier alpha; their layer lists are fixed."""

    alpha: float

    def scale_knobs(self, m: Multipliers) -> KnobScaling:
        alpha = rounded(clamp(self.alpha * m.width, 0.1, 3.0))
        fixed = not_scaled(
            self.family, m, ("depth",), f"{self.title} has a fixed layer list (no depth knob)"
        )
        notes = fixed.notes
        if m.width != 1.0:
            notes += (f"width: alpha {self.alpha:g} x {m.width:.3g} = {alpha:g}; channels rounded to multiples of 8",)
        return KnobScaling({"alpha": alpha}, 1.0, alpha / self.alpha, notes, fixed.unapplied)


@dataclass(frozen=True, kw_only=True)
class MobileNetV1Config(_WidthMultiplied):
    family: ClassVar[str] = "mobilenet_v1"
    title: ClassVar[str] = "MobileNet V1"
    alpha: float = _alpha_knob()


@dataclass(frozen=True, kw_only=True)
class MobileNetV2Config(_WidthMultiplied):
    family: ClassVar[str] = "mobilenet_v2"
    title: ClassVar[str] = "MobileNet V2"
    alpha: float = _alpha_knob()


@dataclass(frozen=True, kw_only=True)
class MobileNetV3Config(_WidthMultiplied):
    family: ClassVar[str] = "mobilenet_v3"
    title: ClassVar[str] = "MobileNet V3"
    size: str = knob("large", "choice", "the paper's Large or Small network", choices=("large", "small"))
    alpha: float = _alpha_knob()


#: MobileNetV1 body (Table 1 of the paper): output channels and stride of each separable layer.
V1_LAYERS: tuple[tuple[int, int], ...] = (
    (64, 1),
    (128, 2),
    (128, 1),
    (256, 2),
    (256, 1),
    (512, 2),
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),
    (512, 1),
    (1024, 2),
    (1024, 1),
)


register_preset("mobilenet_v1", "family=mobilenet_v1")
register_preset("mobilenet_v2", "family=mobilenet_v2")
register_preset("mobilenet_v3_large", "family=mobilenet_v3")
register_preset("mobilenet_v3_small", "family=mobilenet_v3&size=small")
