"""What the saliency methods are, in plain data (no torch): their names, one sentence each, their options,
their cost in passes, and an :class:`Attribution` result. :mod:`explorer.analysis.attribution` runs them
through captum; the views and pages read this module without importing torch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from explorer.errors import InputError

__all__ = [
    "DEFAULT_OPTIONS",
    "IG_PIXELS_PER_BATCH",
    "METHODS",
    "Attribution",
    "Method",
    "MethodInfo",
    "MethodOptions",
    "cost",
    "ig_batch",
    "occlusion_geometry",
]


class Method(StrEnum):
    GRADCAM = "gradcam"
    GRADIENTS = "gradients"
    INTEGRATED_GRADIENTS = "integrated_gradients"
    GUIDED_BACKPROP = "guided_backprop"
    GUIDED_GRADCAM = "guided_gradcam"
    OCCLUSION = "occlusion"


@dataclass(frozen=True)
class MethodInfo:
    label: str
    #: One sentence: what the map computes.
    computes: str
    #: Whether the raw attribution is per input pixel and channel, ``(C, H, W)`` (else a layer map).
    pixel: bool


METHODS: dict[Method, MethodInfo] = {
    Method.GRADCAM: MethodInfo(
        "Grad-CAM",
        "A layer's activations weighted by the class score's average gradient per channel, summed over channels, "
        "ReLU'd and upsampled: where at that layer the evidence for the class lies.",
        pixel=False,
    ),
    Method.GRADIENTS: MethodInfo(
        "Gradients",
        "The absolute gradient of the class score with respect to each input pixel (Simonyan et al.): which pixels "
        "would change the score most if nudged.",
        pixel=True,
    ),
    Method.INTEGRATED_GRADIENTS: MethodInfo(
        "Integrated Gradients",
        "Gradients averaged along the straight path from a black (zero) input to the image, times the difference "
        "(Sundararajan et al.): per pixel shares that add up to the score's change.",
        pixel=True,
    ),
    Method.GUIDED_BACKPROP: MethodInfo(
        "Guided Backprop",
        "The gradient with every ReLU letting only positive gradients through backwards (Springenberg et al.): "
        "sharp, edge-like pictures.",
        pixel=True,
    ),
    Method.GUIDED_GRADCAM: MethodInfo(
        "Guided Grad-CAM",
        "Guided Backprop multiplied by the upsampled Grad-CAM (Selvaraju et al.): fine detail, kept where the layer "
        "saw the class.",
        pixel=True,
    ),
    Method.OCCLUSION: MethodInfo(
        "Occlusion",
        "The drop in the class score when a grey (zero) window covers each place in turn (Zeiler and Fergus): "
        "no gradients, only forwards.",
        pixel=True,
    ),
}


@dataclass(frozen=True)
class MethodOptions:
    #: Grad-CAM's and Guided Grad-CAM's layer (a module path; None: the last conv stage).
    layer: str | None = None
    #: Grad-CAM: ReLU on the map (positive evidence only).
    relu: bool = True
    #: Integrated Gradients: steps along the path (captum's default 50) and images per batch (None: :func:`ig_batch`).
    ig_steps: int = 50
    internal_batch_size: int | None = None
    #: Occlusion: window side and stride in pixels (None: an eighth of the image's side, and half the window).
    window: int | None = None
    stride: int | None = None


#: Captum's defaults, the last conv stage, Grad-CAM's ReLU on.
DEFAULT_OPTIONS = MethodOptions()


@dataclass(frozen=True)
class Attribution:
    method: Method
    target: int
    #: The layer Grad-CAM and Guided Grad-CAM used (None for the other methods).
    layer: str | None
    #: captum's attribution: ``(C, H, W)`` for pixel methods, the upsampled ``(H, W)`` map for Grad-CAM.
    raw: np.ndarray
    #: What is shown and ranked, ``(H, W)``: Grad-CAM's map, or |raw| summed over channels.
    heatmap: np.ndarray
    #: Wall time of the captum call, seconds.
    seconds: float

    @property
    def info(self) -> MethodInfo:
        return METHODS[self.method]

    def normalised(self) -> np.ndarray:
        """The heatmap scaled to [0, 1] (a flat map stays zeros)."""
        low, high = float(self.heatmap.min()), float(self.heatmap.max())
        if not high > low:
            return np.zeros_like(self.heatmap)
        return (self.heatmap - low) / (high - low)


#: Integrated Gradients' batch is sized so that one batch holds about this many input pixels (16 images at
#: 224 px): the whole path in one batch at the shapes' 64 px, a few batches for a photo.
IG_PIXELS_PER_BATCH = 16 * 224 * 224


def ig_batch(steps: int, height: int, width: int) -> int:
    """Integrated Gradients' ``internal_batch_size`` for a ``height x width`` image: the path's points per batch."""
    return max(1, min(steps, IG_PIXELS_PER_BATCH // max(1, height * width)))


def occlusion_geometry(height: int, width: int, window: int | None, stride: int | None) -> tuple[int, int]:
    """Occlusion's (window, stride) in pixels, checked; the defaults: an eighth of the shorter side, half of that."""
    side = min(height, width)
    window = window if window is not None else max(2, side // 8)
    stride = stride if stride is not None else max(1, window // 2)
    if not 1 <= window <= side:
        raise InputError(f"occlusion window {window} px must be between 1 and the image's side ({side} px)")
    if not 1 <= stride <= side:
        raise InputError(f"occlusion stride {stride} px must be between 1 and the image's side ({side} px)")
    return window, stride


def _positions(side: int, window: int, stride: int) -> int:
    return (side - window) // stride + 1


def cost(method: Method, height: int, width: int, options: MethodOptions = DEFAULT_OPTIONS) -> str:
    """What ``method`` costs on an ``height x width`` image, in passes through the network."""
    if method is Method.GRADCAM:
        return "one forward and one backward pass"
    if method is Method.GRADIENTS:
        return "one forward and one backward pass"
    if method is Method.GUIDED_BACKPROP:
        return "one forward and one backward pass (with hooks on the ReLUs)"
    if method is Method.GUIDED_GRADCAM:
        return "two forward and two backward passes (Grad-CAM, then Guided Backprop)"
    if method is Method.INTEGRATED_GRADIENTS:
        batch = options.internal_batch_size or ig_batch(options.ig_steps, height, width)
        batches = math.ceil(options.ig_steps / batch)
        return (
            f"{options.ig_steps} forward and backward passes (one per step on the path), "
            f"in {batches} batch{'es' if batches != 1 else ''} of up to {batch}"
        )
    window, stride = occlusion_geometry(height, width, options.window, options.stride)
    forwards = _positions(height, window, stride) * _positions(width, window, stride)
    return f"{forwards + 1} forward passes (a {window} px window every {stride} px), no backward"
