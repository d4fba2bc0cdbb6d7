"""Grad-CAM (Selvaraju et al., 2017) through captum's ``LayerGradCam``.

captum registers its hooks and removes them itself; the model's train/eval mode is set to eval
and restored around the call by :func:`explorer.runtime.hooks.hooked`, so a cached model shared between
sessions comes back as it was. The image is moved to the model's device and the map computed in
full float32 (TF32 off, :func:`explorer.runtime.device.full_float32`); only the finished map leaves the
device.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from captum.attr import LayerAttribution, LayerGradCam
from PIL import Image
from torch import nn

from explorer.data.images import display_image, preprocess
from explorer.families import BuiltModel
from explorer.runtime.device import full_float32
from explorer.runtime.hooks import hooked
from explorer.runtime.weights import ExplainableModel


@dataclass(frozen=True)
class TargetLayer:
    name: str  # a module path as in named_modules(), e.g. "layer4"
    stage: str


@dataclass(frozen=True)
class GradCam:
    layer: str
    target: int
    #: Grad-CAM at the input resolution, ``(H, W)`` float32, not normalised.
    heatmap: np.ndarray
    #: Grad-CAM at the layer's own resolution, ``(h, w)``.
    raw: np.ndarray
    #: Top predictions as (class index, probability), best first.
    top: tuple[tuple[int, float], ...]

    def normalised(self) -> np.ndarray:
        """The heatmap scaled to [0, 1] (all zeros stays zeros)."""
        low, high = float(self.heatmap.min()), float(self.heatmap.max())
        if high - low <= 0:
            return np.zeros_like(self.heatmap)
        return (self.heatmap - low) / (high - low)

    def peak(self) -> tuple[int, int]:
        """(row, column) of the heatmap's maximum."""
        row, column = np.unravel_index(int(np.argmax(self.heatmap)), self.heatmap.shape)
        return int(row), int(column)


def target_layers(built: BuiltModel) -> list[TargetLayer]:
    """One Grad-CAM target per stage that has spatial output (stem and stages; not the head):
    the stage's last module, so the map shows what the whole stage computed."""
    modules = dict(built.module.named_modules())

    def does_work(name: str) -> bool:
        module = modules.get(name)
        return (
            module is not None
            and not isinstance(module, nn.Identity)
            and not (isinstance(module, nn.Sequential) and len(module) == 0)
        )

    layers = []
    for stage in built.stages:
        working = [name for name in stage.modules if does_work(name)]
        if stage.name != "head" and working:
            layers.append(TargetLayer(working[-1], stage.name))
    return layers


def default_layer(built: BuiltModel) -> str:
    """The last conv stage, Grad-CAM's usual choice."""
    return target_layers(built)[-1].name


def _module(model: nn.Module, name: str) -> nn.Module:
    modules = dict(model.named_modules())
    if name not in modules:
        raise ValueError(f"no layer '{name}' in this model; conv stages: use e.g. " + ", ".join(list(modules)[1:6]))
    return modules[name]


def grad_cam(
    built: BuiltModel, image: torch.Tensor, layer: str | None = None, target: int | None = None, relu: bool = True
) -> GradCam:
    """Grad-CAM of ``image`` (``(1, C, H, W)``, preprocessed) for class ``target`` (default: the top
    prediction) at module ``layer`` (default: the last conv stage), upsampled bilinearly to H x W."""
    model = built.module
    layer = layer or default_layer(built)
    module = _module(model, layer)
    device = next(model.parameters()).device
    image = image.to(device)
    with full_float32(), hooked(model, training=False):
        with torch.no_grad():
            probabilities = torch.softmax(model(image), dim=1)[0]
        if not torch.isfinite(probabilities).all():
            raise ValueError("the model's output is NaN or infinite for this image; Grad-CAM is undefined")
        k = min(5, probabilities.numel())
        values, indices = probabilities.topk(k)
        chosen = int(indices[0]) if target is None else int(target)
        if not 0 <= chosen < probabilities.numel():
            raise ValueError(f"target class {chosen} is out of range; the model has {probabilities.numel()} classes")
        attribution = LayerGradCam(model, module).attribute(image, target=chosen, relu_attributions=relu)
    if attribution.dim() != 4:
        raise ValueError(f"layer '{layer}' has no spatial output (shape {tuple(attribution.shape)}); pick a conv stage")
    upsampled = LayerAttribution.interpolate(attribution, tuple(image.shape[-2:]), interpolate_mode="bilinear")
    return GradCam(
        layer=layer,
        target=chosen,
        heatmap=upsampled[0, 0].detach().float().cpu().numpy(),
        raw=attribution[0, 0].detach().float().cpu().numpy(),
        top=tuple((int(i), float(v)) for i, v in zip(indices.tolist(), values.tolist(), strict=True)),
    )


def grad_cam_strip(
    built: BuiltModel, image: torch.Tensor, target: int | None = None, relu: bool = True
) -> list[GradCam]:
    """Grad-CAM at every stage for the same target, so the map can be seen sharpening with depth."""
    first = grad_cam(built, image, target=target, relu=relu)
    return [
        first if layer.name == first.layer else grad_cam(built, image, layer.name, first.target, relu)
        for layer in target_layers(built)
    ]


# -- an image through a model with known weights ------------------------------------------------------
@dataclass(frozen=True)
class ImageExplanation:
    """Grad-CAM of one image, with what the page shows beside it."""

    cam: GradCam
    #: The square crop the model saw, ``(R, R, 3)`` uint8, for overlays.
    image: np.ndarray
    #: Top predictions as (name, probability).
    top: tuple[tuple[str, float], ...]


def explain_image(
    model: ExplainableModel, image: Image.Image, layer: str | None = None, target: int | None = None, relu: bool = True
) -> ImageExplanation:
    """Grad-CAM of ``image`` (any size; resized and centre-cropped to the model's resolution)."""
    resolution = model.config.input_resolution
    tensor = preprocess(image, resolution, model.config.in_channels, model.mean, model.std)
    cam = grad_cam(model.built, tensor, layer=layer, target=target, relu=relu)
    top = tuple((model.class_name(i), p) for i, p in cam.top)
    return ImageExplanation(cam, display_image(image, resolution), top)


def explain_every_stage(
    model: ExplainableModel, image: Image.Image, target: int | None = None, relu: bool = True
) -> list[GradCam]:
    """Grad-CAM at every stage for one target: the map sharpening (or not) with depth."""
    tensor = preprocess(image, model.config.input_resolution, model.config.in_channels, model.mean, model.std)
    return grad_cam_strip(model.built, tensor, target=target, relu=relu)


# -- the pointing game: does the map's peak land on the object? ---------------------------------------
def pointing_hits(
    built: BuiltModel,
    images: torch.Tensor,
    targets: torch.Tensor,
    boxes: torch.Tensor,
    layer: str | None = None,
    chunk: int = 100,
) -> torch.Tensor:
    """Per image, whether the Grad-CAM peak for class ``targets[n]`` lies inside ``boxes[n]``.

    ``images`` ``(N, C, H, W)`` preprocessed; ``boxes`` ``(N, 4)`` ``(x0, y0, x1, y1)`` pixels with
    ``x1``/``y1`` exclusive (the shapes convention). The map is upsampled to H x W as in
    :func:`grad_cam` (ReLU on); its first maximum is the peak, so an all-zero map points at (0, 0).
    Batched (``chunk`` images per Grad-CAM call), which is what makes 2,000 images cheap on a CPU.
    """
    model = built.module
    module = _module(model, layer or default_layer(built))
    device = next(model.parameters()).device
    hits = []
    side_h, side_w = images.shape[-2:]
    with full_float32(), hooked(model, training=False):
        cam = LayerGradCam(model, module)
        for start in range(0, images.shape[0], chunk):
            x = images[start : start + chunk].to(device)
            target = targets[start : start + chunk].to(device)
            attribution = cam.attribute(x, target=target, relu_attributions=True)
            maps = LayerAttribution.interpolate(attribution, (side_h, side_w), interpolate_mode="bilinear")
            flat = maps[:, 0].detach().float().flatten(1).argmax(1).cpu()
            rows, cols = flat // side_w, flat % side_w
            box = boxes[start : start + chunk]
            hits.append((cols >= box[:, 0]) & (cols < box[:, 2]) & (rows >= box[:, 1]) & (rows < box[:, 3]))
    return torch.cat(hits)
