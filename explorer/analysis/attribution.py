"""Saliency methods side by side, every one of them captum's (design note 13).

:func:`attribute` runs one method on one image for one target class: Grad-CAM
(``LayerGradCam``, as :mod:`explorer.analysis.saliency` computes it), gradients (``Saliency``,
Simonyan et al. 2014), Integrated Gradients (``IntegratedGradients`` with captum's defaults: zero
baseline, 50 steps, Gauss-Legendre; batched with ``internal_batch_size``), Guided Backprop
(``GuidedBackprop``), Guided Grad-CAM (``GuidedGradCam``) and Occlusion (``Occlusion``). Each call
runs under :func:`explorer.measure.hooks.hooked`, so captum's hooks (Guided Backprop puts backward
hooks on every ``nn.ReLU``) hold the model's lock and the model's train/eval mode comes back as it was.

The pixel methods' raw attribution is exactly captum's, ``(C, H, W)`` for the input tensor; the map
shown and ranked (:attr:`Attribution.heatmap`) is its absolute value summed over channels (captum's
``visualize_image_attr`` with ``sign="absolute_value"``, and the maps Adebayo et al. compare). Grad-CAM's
raw attribution is today's upsampled ``(H, W)`` map.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import torch
from captum.attr import GuidedBackprop, GuidedGradCam, IntegratedGradients, LayerAttribution, LayerGradCam, Occlusion
from captum.attr import Saliency as Gradients
from PIL import Image
from torch import nn

from explorer.analysis.saliency import default_layer
from explorer.data.images import preprocess
from explorer.families import BuiltModel
from explorer.measure.hooks import hooked
from explorer.runtime.device import full_float32
from explorer.runtime.weights import ExplainableModel

__all__ = [
    "DEFAULT_OPTIONS",
    "METHODS",
    "Attribution",
    "Method",
    "MethodInfo",
    "MethodOptions",
    "attribute",
    "attribute_all",
    "attribution_tensor",
    "cost",
    "has_relu_modules",
    "heatmap_of",
    "ig_batch",
    "model_input",
    "occlusion_geometry",
    "predictions",
    "top_class",
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
        raise ValueError(f"occlusion window {window} px must be between 1 and the image's side ({side} px)")
    if not 1 <= stride <= side:
        raise ValueError(f"occlusion stride {stride} px must be between 1 and the image's side ({side} px)")
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


def has_relu_modules(model: nn.Module) -> bool:
    """Whether captum's Guided Backprop has anything to modify: it hooks ``nn.ReLU`` modules only
    (not ReLU6, SiLU or a functional relu), so without them it is plain gradients."""
    return any(isinstance(m, nn.ReLU) for m in model.modules())


def heatmap_of(method: Method, raw: torch.Tensor) -> torch.Tensor:
    """The ``(H, W)`` map shown and ranked: Grad-CAM's own map, else |attribution| summed over channels."""
    if method is Method.GRADCAM:
        return raw
    return raw.abs().sum(dim=0)


def _module(model: nn.Module, name: str) -> nn.Module:
    modules = dict(model.named_modules())
    if name not in modules:
        raise ValueError(f"no layer '{name}' in this model; e.g. " + ", ".join(list(modules)[1:6]))
    return modules[name]


def top_class(model: nn.Module, image: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Softmax probabilities ``(K,)`` of ``image`` ``(1, C, H, W)`` and the top class; call under the model's lock."""
    with torch.no_grad():
        probabilities = torch.softmax(model(image), dim=1)[0]
    if not torch.isfinite(probabilities).all():
        raise ValueError("the model's output is NaN or infinite for this image; saliency is undefined")
    return probabilities, int(probabilities.argmax())


def attribution_tensor(
    model: nn.Module, image: torch.Tensor, method: Method, target: int, layer: str, options: MethodOptions
) -> torch.Tensor:
    """captum's attribution of ``image`` ``(1, C, H, W)`` (on the model's device) for ``target``, without the
    batch axis: ``(C, H, W)``, or ``(H, W)`` for Grad-CAM (upsampled bilinearly, as today). Call it under
    :func:`hooked` (the model's lock, eval mode) and :func:`full_float32`; the sanity check calls it on
    its private copy."""
    inputs = image.detach().clone().requires_grad_(True)  # captum would warn and set it itself
    height, width = image.shape[-2:]
    if method is Method.GRADCAM:
        cam = LayerGradCam(model, _module(model, layer)).attribute(
            inputs, target=target, relu_attributions=options.relu
        )
        if cam.dim() != 4:
            raise ValueError(f"layer '{layer}' has no spatial output (shape {tuple(cam.shape)}); pick a conv stage")
        return LayerAttribution.interpolate(cam, (height, width), interpolate_mode="bilinear")[0, 0].detach()
    if method is Method.GRADIENTS:
        result = Gradients(model).attribute(inputs, target=target)
    elif method is Method.INTEGRATED_GRADIENTS:
        if options.ig_steps < 1:
            raise ValueError(f"Integrated Gradients needs at least 1 step (got {options.ig_steps})")
        batch = options.internal_batch_size or ig_batch(options.ig_steps, height, width)
        result = IntegratedGradients(model).attribute(
            inputs, target=target, n_steps=options.ig_steps, internal_batch_size=batch
        )
    elif method is Method.GUIDED_BACKPROP:
        result = GuidedBackprop(model).attribute(inputs, target=target)
    elif method is Method.GUIDED_GRADCAM:
        result = GuidedGradCam(model, _module(model, layer)).attribute(inputs, target=target)
    else:
        window, stride = occlusion_geometry(height, width, options.window, options.stride)
        channels = image.shape[1]
        result = Occlusion(model).attribute(
            inputs,
            target=target,
            sliding_window_shapes=(channels, window, window),
            strides=(channels, stride, stride),
            perturbations_per_eval=max(1, IG_PIXELS_PER_BATCH // (height * width)),
        )
    return result[0].detach()


def model_input(model: ExplainableModel, image: Image.Image) -> torch.Tensor:
    """``image`` (any size) as ``model`` takes it: resized, centre-cropped, normalised, ``(1, C, R, R)``."""
    config = model.config
    return preprocess(image, config.input_resolution, config.in_channels, model.mean, model.std)


def predictions(built: BuiltModel, image: torch.Tensor, k: int = 5) -> tuple[tuple[int, float], ...]:
    """The top ``k`` classes of ``image`` ``(1, C, H, W)`` as (index, probability), best first."""
    model = built.module
    with full_float32(), hooked(model, training=False):
        probabilities, _ = top_class(model, image.to(next(model.parameters()).device))
    values, indices = probabilities.topk(min(k, probabilities.numel()))
    return tuple((int(i), float(v)) for i, v in zip(indices.tolist(), values.tolist(), strict=True))


def attribute_all(
    built: BuiltModel,
    image: torch.Tensor,
    methods: Sequence[Method],
    target: int | None = None,
    options: MethodOptions = DEFAULT_OPTIONS,
    clock: Callable[[], float] = time.perf_counter,
) -> list[Attribution]:
    """Each of ``methods`` on ``image`` (``(1, C, H, W)``, preprocessed) for ``target`` (default: the top
    prediction), in order, all under one hold of the model's lock."""
    model = built.module
    device = next(model.parameters()).device
    image = image.to(device)
    layer = options.layer or default_layer(built)
    _module(model, layer)
    results = []
    with full_float32(), hooked(model, training=False):
        probabilities, top = top_class(model, image)
        chosen = top if target is None else int(target)
        if not 0 <= chosen < probabilities.numel():
            raise ValueError(f"target class {chosen} is out of range; the model has {probabilities.numel()} classes")
        for method in methods:
            method = Method(method)
            start = clock()
            raw = attribution_tensor(model, image, method, chosen, layer, options)
            seconds = clock() - start
            uses_layer = method in (Method.GRADCAM, Method.GUIDED_GRADCAM)
            results.append(
                Attribution(
                    method=method,
                    target=chosen,
                    layer=layer if uses_layer else None,
                    raw=raw.float().cpu().numpy(),
                    heatmap=heatmap_of(method, raw).float().cpu().numpy(),
                    seconds=seconds,
                )
            )
    return results


def attribute(
    built: BuiltModel,
    image: torch.Tensor,
    method: Method,
    target: int | None = None,
    options: MethodOptions = DEFAULT_OPTIONS,
) -> Attribution:
    """One method's attribution of ``image`` (``(1, C, H, W)``, preprocessed) for ``target`` (default: the top
    prediction); see :func:`attribute_all`."""
    return attribute_all(built, image, [method], target, options)[0]
