"""EfficientNet family: torchvision's EfficientNet and MBConv, scaled by the compound rule.

Tan & Le (2019): depth x alpha^phi, width x beta^phi, resolution x gamma^phi, with
alpha * beta^2 * gamma^2 ~ 2 so that cost grows ~2^phi. torchvision rounds each stage's layer
count up (ceil) and channels to multiples of 8. The published B1-B7 use hand-picked multipliers,
so their presets set ``width_mult``, ``depth_mult`` and ``resolution`` explicitly.

``lite=on`` is EfficientNet-Lite, the family's mobile variant (Google's ``efficientnet/lite``): no
squeeze-and-excitation, ReLU6 instead of swish, TensorFlow's "same" padding and batch-norm eps 1e-3
(the published checkpoints were trained so), and the stem (32 channels), the head (1280) and the
first and last stages' layer counts fixed while the rest scales. Presets ``efficientnet_lite0`` to
``lite4`` carry the published multipliers and resolutions.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, ClassVar

from explorer.compound import (
    COEFFICIENT_RANGE,
    PAPER_ALPHA,
    PAPER_BETA,
    PAPER_GAMMA,
    PHI_RANGE,
    CompoundConfig,
    KnobScaling,
    Multipliers,
    Rule,
    clamp,
    flops_ratio,
    rounded,
)
from explorer.families.rounding import make_divisible
from explorer.knobs import ModelConfig, knob, register_preset

_COEFFICIENT: dict[str, Any] = {"minimum": COEFFICIENT_RANGE[0], "maximum": COEFFICIENT_RANGE[1], "step": 0.05}


@dataclass(frozen=True, kw_only=True)
class MBStage:
    """One stage of EfficientNet's Table 1 after scaling: every block's expansion, kernel, channels."""

    expand_ratio: int
    kernel: int
    stride: int
    in_channels: int
    out_channels: int
    layers: int


#: EfficientNet-B0's stages (Tan & Le 2019, Table 1), the base that B1-B7 and Lite0-Lite4 scale.
B0_STAGES = (
    MBStage(expand_ratio=1, kernel=3, stride=1, in_channels=32, out_channels=16, layers=1),
    MBStage(expand_ratio=6, kernel=3, stride=2, in_channels=16, out_channels=24, layers=2),
    MBStage(expand_ratio=6, kernel=5, stride=2, in_channels=24, out_channels=40, layers=2),
    MBStage(expand_ratio=6, kernel=3, stride=2, in_channels=40, out_channels=80, layers=3),
    MBStage(expand_ratio=6, kernel=5, stride=1, in_channels=80, out_channels=112, layers=3),
    MBStage(expand_ratio=6, kernel=5, stride=2, in_channels=112, out_channels=192, layers=4),
    MBStage(expand_ratio=6, kernel=3, stride=1, in_channels=192, out_channels=320, layers=1),
)
#: EfficientNet-Lite's stem channels, fixed while scaling (TF's ``fix_head_stem``).
LITE_STEM = 32
#: EfficientNet-Lite's head channels, fixed while scaling (TF's ``fix_head_stem``).
LITE_HEAD = 1280


@dataclass(frozen=True, kw_only=True)
class EfficientNetConfig(ModelConfig):
    family: ClassVar[str] = "efficientnet"
    title: ClassVar[str] = "EfficientNet"
    resolution_rule: ClassVar[str] = "224 x gamma^phi, rounded"

    phi: float = knob(
        0.0,
        "float",
        "compound coefficient: how many doublings of cost over B0",
        minimum=PHI_RANGE[0],
        maximum=PHI_RANGE[1],
        step=0.5,
    )
    alpha: float = knob(PAPER_ALPHA, "float", "depth base: layers x alpha^phi", **_COEFFICIENT)
    beta: float = knob(PAPER_BETA, "float", "width base: channels x beta^phi", **_COEFFICIENT)
    gamma: float = knob(PAPER_GAMMA, "float", "resolution base: pixels x gamma^phi", **_COEFFICIENT)
    width_mult: float | None = knob(
        None, "float", "channel multiplier (overrides beta^phi)", minimum=0.1, maximum=8.0, step=0.1, derived="beta^phi"
    )
    depth_mult: float | None = knob(
        None, "float", "layer multiplier (overrides alpha^phi)", minimum=0.1, maximum=8.0, step=0.1, derived="alpha^phi"
    )
    lite: bool = knob(
        False,
        "onoff",
        "EfficientNet-Lite (mobile): no squeeze-excitation, ReLU6, TF 'same' padding, stem, head and "
        "first and last stages' depth not scaled",
    )

    @property
    def width(self) -> float:
        return self.width_mult if self.width_mult is not None else self.beta**self.phi

    @property
    def depth(self) -> float:
        return self.depth_mult if self.depth_mult is not None else self.alpha**self.phi

    def derived_values(self) -> dict[str, Any]:
        return super().derived_values() | {"width_mult": self.width, "depth_mult": self.depth}

    def lite_stages(self) -> tuple[MBStage, ...]:
        """EfficientNet-Lite's stages at this config's multipliers, as TensorFlow's ``efficientnet/lite``
        builds them: channels x width rounded to a multiple of 8 (the stem stays 32, so the first
        stage's input is 32), layer counts x depth rounded up except the first and last stage's."""
        last = len(B0_STAGES) - 1
        stages = []
        for i, stage in enumerate(B0_STAGES):
            layers = stage.layers if i in (0, last) else math.ceil(stage.layers * self.depth)
            stages.append(
                dataclasses.replace(
                    stage,
                    in_channels=LITE_STEM if i == 0 else make_divisible(stage.in_channels * self.width),
                    out_channels=make_divisible(stage.out_channels * self.width),
                    layers=layers,
                )
            )
        return tuple(stages)

    def derived_resolution(self) -> int:
        """224 x gamma^phi, rounded to the nearest pixel (the paper gives no rounding rule)."""
        return min(1024, round(224 * self.gamma**self.phi))

    @property
    def flops_ratio(self) -> float:
        """alpha * beta^2 * gamma^2: the cost factor per unit of phi (the paper sets it to ~2)."""
        return flops_ratio(self.alpha, self.beta, self.gamma)

    # -- scaling: multiply the builder's own multipliers; the builder rounds per stage ---------------
    def scale_knobs(self, m: Multipliers) -> KnobScaling:
        depth_mult = rounded(clamp(self.depth * m.depth, 0.1, 8.0))
        width_mult = rounded(clamp(self.width * m.width, 0.1, 8.0))
        notes = (
            "depth: each stage's block count x depth_mult, rounded up (ceil) by the builder",
            "width: each stage's channels x width_mult, rounded to a multiple of 8 (make_divisible)",
            *self._lite_note(),
        )
        changes: dict[str, Any] = {}  # an unscaled multiplier stays as it was (auto stays auto)
        if m.depth != 1.0 or self.depth_mult is not None:
            changes["depth_mult"] = depth_mult
        if m.width != 1.0 or self.width_mult is not None:
            changes["width_mult"] = width_mult
        return KnobScaling(changes, depth_mult / self.depth, width_mult / self.width, notes if changes else ())

    def _lite_note(self) -> tuple[str, ...]:
        if not self.lite:
            return ()
        return ("Lite: the stem (32), the head (1280) and the first and last stages' block counts stay fixed",)

    def depth_rounding(self) -> str:
        return "each stage rounded up"

    def rule_start(self) -> EfficientNetConfig:
        """B0 with this config's coefficients (overrides removed)."""
        return dataclasses.replace(self, phi=0.0, width_mult=None, depth_mult=None, resolution=None)

    def own_rule(self) -> tuple[Rule, float]:
        return Rule(self.alpha, self.beta, self.gamma), self.phi

    def compound_config(self, rule: Rule, phi: float) -> CompoundConfig:
        """The rule at ``phi`` in EfficientNet's own keys (``family=efficientnet&phi=3&beta=1.2``)."""
        start = self.rule_start()
        config = dataclasses.replace(start, phi=float(phi), alpha=rule.alpha, beta=rule.beta, gamma=rule.gamma)
        achieved = Multipliers(config.depth, config.width, config.input_resolution / start.input_resolution)
        notes = (
            "depth: each stage's block count x alpha^phi, rounded up (ceil) by torchvision",
            "width: each stage's channels x beta^phi, rounded to a multiple of 8 (make_divisible)",
            "resolution: 224 x gamma^phi, rounded to the nearest pixel",
            *self._lite_note(),
        )
        return CompoundConfig(config, achieved, notes)


#: torchvision's published (width, depth, resolution) per model.
PUBLISHED = {
    "b0": (1.0, 1.0, 224),
    "b1": (1.0, 1.1, 240),
    "b2": (1.1, 1.2, 288),
    "b3": (1.2, 1.4, 300),
    "b4": (1.4, 1.8, 380),
    "b5": (1.6, 2.2, 456),
    "b6": (1.8, 2.6, 528),
    "b7": (2.0, 3.1, 600),
}
#: torchvision's classifier dropout and batch norm per published model: dropout grows with the model
#: (0.2 to 0.5), and B5-B7's weights came from TensorFlow checkpoints trained with batch-norm eps 1e-3
#: and momentum 0.01 (None: PyTorch's default norm). Designs between them keep B0's.
TF_NORM = (1e-3, 0.01)
PUBLISHED_HEAD: dict[str, tuple[float, tuple[float, float] | None]] = {
    "b0": (0.2, None),
    "b1": (0.2, None),
    "b2": (0.3, None),
    "b3": (0.3, None),
    "b4": (0.4, None),
    "b5": (0.4, TF_NORM),
    "b6": (0.5, TF_NORM),
    "b7": (0.5, TF_NORM),
}


def published_model(config: EfficientNetConfig) -> str | None:
    """The published B-model (``"b0"`` to ``"b7"``) whose width and depth multipliers ``config`` has,
    or None (Lite designs and designs between the published ones)."""
    if config.lite:
        return None
    width, depth = config.width, config.depth
    same = (name for name, (w, d, _) in PUBLISHED.items() if math.isclose(width, w) and math.isclose(depth, d))
    return next(same, None)


def head_settings(config: EfficientNetConfig) -> tuple[float, tuple[float, float] | None]:
    """``(dropout, (batch-norm eps, momentum) or None for PyTorch's default)`` as torchvision builds
    ``config``'s published model, so its pretrained weights give torchvision's outputs; B0's for any
    other design."""
    return PUBLISHED_HEAD[published_model(config) or "b0"]


register_preset("efficientnet_b0", "family=efficientnet")
for _name, (_w, _d, _r) in list(PUBLISHED.items())[1:]:
    register_preset(f"efficientnet_{_name}", f"family=efficientnet&width_mult={_w}&depth_mult={_d}&resolution={_r}")

#: EfficientNet-Lite's published (width, depth, resolution) per model (TensorFlow's
#: ``efficientnet_lite_builder``; params, MAdds and top-1 in :data:`LITE_PUBLISHED_FIGURES`).
LITE_PUBLISHED = {
    "lite0": (1.0, 1.0, 224),
    "lite1": (1.0, 1.1, 240),
    "lite2": (1.1, 1.2, 260),
    "lite3": (1.2, 1.4, 280),
    "lite4": (1.4, 1.8, 300),
}
#: What Google's EfficientNet-Lite README publishes per model: parameters and multiply-adds (rounded as
#: printed there) and float32 ImageNet top-1 (%).
LITE_PUBLISHED_FIGURES = {
    "lite0": {"params": 4.7e6, "madds": 407e6, "top1": 75.1},
    "lite1": {"params": 5.4e6, "madds": 631e6, "top1": 76.7},
    "lite2": {"params": 6.1e6, "madds": 899e6, "top1": 77.6},
    "lite3": {"params": 8.2e6, "madds": 1.44e9, "top1": 79.8},
    "lite4": {"params": 13.0e6, "madds": 2.64e9, "top1": 81.5},
}
register_preset("efficientnet_lite0", "family=efficientnet&lite=on")
for _name, (_w, _d, _r) in list(LITE_PUBLISHED.items())[1:]:
    register_preset(
        f"efficientnet_{_name}", f"family=efficientnet&lite=on&width_mult={_w}&depth_mult={_d}&resolution={_r}"
    )
