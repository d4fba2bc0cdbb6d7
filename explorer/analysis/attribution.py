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

import time
from collections.abc import Callable, Sequence

import torch
from captum.attr import GuidedBackprop, GuidedGradCam, IntegratedGradients, LayerAttribution, LayerGradCam, Occlusion
from captum.attr import Saliency as Gradients
from PIL import Image
from torch import nn

from explorer.analysis.methods import (
    DEFAULT_OPTIONS,
    IG_PIXELS_PER_BATCH,
    METHODS,
    Attribution,
    Method,
    MethodInfo,
    MethodOptions,
    cost,
    ig_batch,
    occlusion_geometry,
)
from explorer.analysis.saliency import default_layer
from explorer.data.images import preprocess
from explorer.errors import InputError
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
        raise InputError(f"no layer '{name}' in this model; e.g. " + ", ".join(list(modules)[1:6]))
    return modules[name]


def top_class(model: nn.Module, image: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Softmax probabilities ``(K,)`` of ``image`` ``(1, C, H, W)`` and the top class; call under the model's lock."""
    with torch.no_grad():
        probabilities = torch.softmax(model(image), dim=1)[0]
    if not torch.isfinite(probabilities).all():
        raise InputError("the model's output is NaN or infinite for this image; saliency is undefined")
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
            raise InputError(f"layer '{layer}' has no spatial output (shape {tuple(cam.shape)}); pick a conv stage")
        return LayerAttribution.interpolate(cam, (height, width), interpolate_mode="bilinear")[0, 0].detach()
    if method is Method.GRADIENTS:
        result = Gradients(model).attribute(inputs, target=target)
    elif method is Method.INTEGRATED_GRADIENTS:
        if options.ig_steps < 1:
            raise InputError(f"Integrated Gradients needs at least 1 step (got {options.ig_steps})")
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
            perturbations_per_eval=max(1, IG_PIXELS_PER_BATCH // (height * width)),  # IG's batch budget
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
            raise InputError(f"target class {chosen} is out of range; the model has {probabilities.numel()} classes")
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
