"""A model worth explaining, and Grad-CAM on an image: what the Saliency page and ``gradcam`` CLI share.

A saliency map of random weights answers nothing, so every model here says where its weights came
from: torchvision's ImageNet weights (canonical presets), a checkpoint the user uploaded, or a short
training run on the shapes data set that ships with the project.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from explorer.analysis.saliency import GradCam, grad_cam, grad_cam_strip
from explorer.analysis.signal import INPUT_MEAN, INPUT_STD
from explorer.config import ModelConfig
from explorer.device import full_float32
from explorer.families import BuiltModel
from explorer.hooks import hooked
from explorer.images import IMAGENET_MEAN, IMAGENET_STD, display_image, preprocess
from explorer.models import instantiate
from explorer.weights import LoadReport, Progress, load_checkpoint, load_pretrained

#: Shapes training: largest input side, batch size and held-out set size.
TRAIN_RESOLUTION = 64
TRAIN_BATCH = 32
LEARNING_RATE = 1e-3
HELD_OUT = 128


@dataclass
class ExplainableModel:
    built: BuiltModel
    #: Where the weights come from, in words (shown next to every map).
    weights: str
    #: Class names by index, where known (ImageNet's, or the shapes' classes).
    categories: tuple[str, ...] | None = None
    report: LoadReport | None = None
    #: Accuracy on held-out data, where the app measured it (shapes training).
    accuracy: float | None = None
    #: Input normalisation the weights were trained with (ImageNet's unless trained here).
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD

    @property
    def config(self) -> ModelConfig:
        return self.built.config

    def class_name(self, index: int) -> str:
        if self.categories and 0 <= index < len(self.categories):
            return self.categories[index]
        return f"class {index}"


@dataclass(frozen=True)
class Explanation:
    cam: GradCam
    #: The square crop the model saw, ``(R, R, 3)`` uint8, for overlays.
    image: np.ndarray
    #: Top predictions as (name, probability).
    top: tuple[tuple[str, float], ...]


def with_imagenet_weights(
    config: ModelConfig, device: torch.device | str = "cpu", download: bool = True, progress: Progress | None = None
) -> ExplainableModel:
    """torchvision's ImageNet weights (local torch cache, else downloaded when online)."""
    built = instantiate(config, device)
    info = load_pretrained(built, download=download, progress=progress)
    top1 = f", {info.top1:.1f}% top-1 as published" if info.top1 else ""
    return ExplainableModel(built, f"ImageNet weights from torchvision ({info.model_name}{top1})", info.categories)


def with_checkpoint(
    config: ModelConfig, data: bytes, name: str = "checkpoint", device: torch.device | str = "cpu"
) -> ExplainableModel:
    """An uploaded state dict; what did not fit is reported, never fatal unless nothing fits."""
    built = instantiate(config, device)
    report = load_checkpoint(built, data)
    return ExplainableModel(built, f"uploaded checkpoint '{name}' ({report.describe()})", report=report)


def with_shapes_training(
    config: ModelConfig,
    device: torch.device | str = "cpu",
    seconds: float = 45.0,
    progress: Callable[[float, str], None] | None = None,
    resolution: int = TRAIN_RESOLUTION,
    seed: int = 0,
    max_steps: int = 100_000,
    autocast: bool = False,
) -> ExplainableModel:
    """Train ``config``'s architecture (with one output per shape class, at ``resolution`` px at
    most) on the shapes data set for ``seconds`` (or ``max_steps``), then measure its accuracy on
    held-out images (another seed of the data set).

    Adam, learning rate 1e-3, batch 32 (:func:`explorer.analysis.training.train`); the model is
    built fresh for the caller, from ``seed`` (a forked RNG: the global seed is not touched), so
    no shared model is touched. ``autocast`` trains under bfloat16 autocast (see ``TrainSettings``).
    """
    from explorer.analysis.training import TrainSettings, train
    from explorer.data.shapes import CLASSES

    side = max(config.min_resolution, min(config.input_resolution, resolution))
    small = dataclasses.replace(config, classes=len(CLASSES), resolution=side)
    built = instantiate(small, device, batch=TRAIN_BATCH, training=True, seed=seed)
    settings = TrainSettings(
        optimizer="adam",
        lr=LEARNING_RATE,
        steps=max_steps,
        batch=TRAIN_BATCH,
        seed=seed,
        record_every=10**9,
        autocast=autocast,
    )
    run = train(small, settings, built=built, device=device, private_copy=False)
    try:
        for record in run:
            if progress:
                progress(min(1.0, record.elapsed_s / seconds), f"step {record.step}: loss {record.loss:.3f}")
            if record.diverged:
                raise ValueError(f"training diverged at step {record.step} (loss {record.loss}); try another config")
            if record.elapsed_s >= seconds:
                break
    finally:
        run.close()
    built.module.eval()
    accuracy = shapes_accuracy(built, seed=seed + 1)
    return ExplainableModel(
        built,
        f"trained here on generated shapes for {record.step} steps at {side} px on {torch.device(device).type}"
        f"{', bf16 autocast' if autocast else ''} ({accuracy:.0%} accuracy on {HELD_OUT} held-out images)",
        CLASSES,
        accuracy=accuracy,
        mean=(INPUT_MEAN,),
        std=(INPUT_STD,),
    )


def shapes_accuracy(built: BuiltModel, seed: int = 1, n: int = 0) -> float:
    """Top-1 accuracy on ``n`` (default :data:`HELD_OUT`) shapes images of ``seed``."""
    from explorer.data.shapes import generate

    config = built.config
    batch = generate(n or HELD_OUT, resolution=config.input_resolution, in_channels=config.in_channels, seed=seed)
    device = next(built.module.parameters()).device
    with full_float32(), hooked(built.module, training=False), torch.no_grad():
        logits = built.module(((batch.images - INPUT_MEAN) / INPUT_STD).to(device))
    return float((logits.argmax(1) == batch.labels.to(device)).float().mean())


def explain(
    model: ExplainableModel, image: Image.Image, layer: str | None = None, target: int | None = None, relu: bool = True
) -> Explanation:
    """Grad-CAM of ``image`` (any size; resized and centre-cropped to the model's resolution)."""
    resolution = model.config.input_resolution
    tensor = preprocess(image, resolution, model.config.in_channels, model.mean, model.std)
    cam = grad_cam(model.built, tensor, layer=layer, target=target, relu=relu)
    top = tuple((model.class_name(i), p) for i, p in cam.top)
    return Explanation(cam, display_image(image, resolution), top)


def explain_every_stage(
    model: ExplainableModel, image: Image.Image, target: int | None = None, relu: bool = True
) -> list[GradCam]:
    """Grad-CAM at every stage for one target: the map sharpening (or not) with depth."""
    tensor = preprocess(image, model.config.input_resolution, model.config.in_channels, model.mean, model.std)
    return grad_cam_strip(model.built, tensor, target=target, relu=relu)


def shape_image(seed: int, resolution: int = 128, shape: str | None = None) -> Image.Image:
    """One image of the shapes data set (index 0 of ``seed``; only ``shape``, if given) as RGB."""
    from explorer.data.shapes import picture

    return Image.fromarray(picture(seed, resolution, shape)[0])


def shape_box(seed: int, resolution: int = 128, shape: str | None = None) -> tuple[int, int, int, int]:
    """The shape's bounding box ``(x0, y0, x1, y1)`` in :func:`shape_image`'s pixels (x1, y1 exclusive)."""
    from explorer.data.shapes import picture

    return picture(seed, resolution, shape)[2]
