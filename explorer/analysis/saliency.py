"""Grad-CAM (Selvaraju et al., 2017) through captum's ``LayerGradCam``.

captum registers its hooks and removes them itself; the model's train/eval mode is set to eval
and restored around the call by :func:`explorer.measure.hooks.hooked`, so a cached model shared between
sessions comes back as it was. The image is moved to the model's device and the map computed in
full float32 (TF32 off, :func:`explorer.runtime.device.full_float32`); only the finished map leaves the
device.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from captum.attr import LayerAttribution, LayerGradCam
from PIL import Image
from torch import nn

from explorer.data.images import display_image, preprocess
from explorer.errors import InputError
from explorer.families import BuiltModel
from explorer.measure.hooks import hooked
from explorer.runtime.device import full_float32
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
        """(row, column) of the heatmap's maximum, kept between the outermost cell centres (the
        pointing game's peak: :func:`peak_pixels`)."""
        rows, columns = peak_pixels(torch.from_numpy(self.heatmap)[None], self.raw.shape)
        return int(rows[0]), int(columns[0])


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
        raise InputError(f"no layer '{name}' in this model; conv stages: use e.g. " + ", ".join(list(modules)[1:6]))
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
            raise InputError("the model's output is NaN or infinite for this image; Grad-CAM is undefined")
        k = min(5, probabilities.numel())
        values, indices = probabilities.topk(k)
        chosen = int(indices[0]) if target is None else int(target)
        if not 0 <= chosen < probabilities.numel():
            raise InputError(f"target class {chosen} is out of range; the model has {probabilities.numel()} classes")
        attribution = LayerGradCam(model, module).attribute(image, target=chosen, relu_attributions=relu)
    if attribution.dim() != 4:
        raise InputError(f"layer '{layer}' has no spatial output (shape {tuple(attribution.shape)}); pick a conv stage")
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
#: What a card's ``pointing_game`` counts (:func:`pointing_hits`), written on every card by ``train``.
POINTING_RULE = (
    "Grad-CAM of the true class at the last conv stage, upsampled bilinearly to the input; its first "
    "maximum, kept between the outermost cell centres, inside the shape's box"
)


def peak_pixels(maps: torch.Tensor, cells: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Where each upsampled map ``(N, H, W)`` of a ``cells = (h, w)`` layer peaks: ``(rows, columns)``.

    The first maximum of the map, kept between the outermost cell centres. Bilinear upsampling
    (``align_corners=False``) holds the border cells' values flat from their centres to the image's
    edge, so a border cell's maximum is a plateau; its first pixel lies up to half a cell above or
    left of the cell's centre (a plateau at the bottom or right starts at the centre), a tie broken
    towards the corner that no part of the map supports. Measured on 400 held-out shapes: 16 px
    (half a cell) for MobileNet V2's 3x3 map at 96 px, which moved the peak out of the shape's box
    for a fifth of them (55.0% -> 74.0%); at most 1 px for a 16x16 map at 64 px (ResNet-8: 88.8% ->
    89.0%; 91.2% and 97.0% unchanged for the deformable ones).
    """
    height, width = maps.shape[-2:]
    h, w = cells
    flat = maps.detach().float().flatten(1).argmax(1).cpu()
    rows, columns = flat // width, flat % width
    # first and last pixel between the outer cell centres (pixel p samples (p + 0.5) * h / H - 0.5)
    top, bottom = math.floor(0.5 * height / h - 0.5), math.ceil((h - 0.5) * height / h - 0.5)
    left, right = math.floor(0.5 * width / w - 0.5), math.ceil((w - 0.5) * width / w - 0.5)
    return rows.clamp(max(top, 0), bottom), columns.clamp(max(left, 0), right)


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
    ``x1``/``y1`` exclusive (the shapes convention). Grad-CAM as in :func:`grad_cam` (ReLU on),
    upsampled to H x W; its first maximum, kept between the outermost cell centres, is the peak
    (:func:`peak_pixels`; an all-zero map points at the first cell's centre). Batched (``chunk``
    images per Grad-CAM call), which is what makes 2,000 images cheap on a CPU.
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
            rows, cols = peak_pixels(maps[:, 0], tuple(attribution.shape[-2:]))
            box = boxes[start : start + chunk]
            hits.append((cols >= box[:, 0]) & (cols < box[:, 2]) & (rows >= box[:, 1]) & (rows < box[:, 3]))
    return torch.cat(hits)
