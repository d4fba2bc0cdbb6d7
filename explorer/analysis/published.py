"""Published figures: what torchvision's weights metadata and the MobileNet paper report.

torchvision ships, with every weights enum, the ImageNet-1K accuracy of those weights, the number of
parameters and ``_ops`` (what its docs call GFLOPS; it is multiply-adds in billions at the eval crop:
4.089 for ResNet-50, whose MACs are 4.089 G). All of it is in the installed package: reading it
downloads nothing. These are *published* figures, measured by torchvision with its training recipe,
not by this app; the app measures only cost.

The MobileNetV1 figures are the paper's (Howard et al., 2017, Tables 6 and 7); torchvision has no
MobileNetV1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import torchvision

from explorer.errors import InputError
from explorer.families import PRESETS
from explorer.knobs import query_to_dict

__all__ = [
    "MOBILENET_V1_PAPER",
    "PaperFigure",
    "PublishedWeights",
    "published_accuracies",
    "torchvision_name",
    "torchvision_weights",
]


@dataclass(frozen=True)
class PublishedWeights:
    """One torchvision weights entry (e.g. ResNet50_Weights.IMAGENET1K_V2), as published."""

    model: str
    preset: str | None
    family: str | None
    weights: str
    default: bool
    top1: float
    top5: float
    #: Multiply-adds in G (torchvision's ``_ops``, "GFLOPS" in its docs) at the eval crop.
    gmacs: float
    params: int
    crop_size: int
    resize_size: int | None
    recipe: str

    @property
    def macs(self) -> int:
        return round(self.gmacs * 1e9)


@cache
def _classification_models() -> frozenset[str]:
    return frozenset(torchvision.models.list_models(module=torchvision.models))


def torchvision_name(preset: str) -> str | None:
    """The torchvision classification model with the same name as ``preset`` (None if there is none)."""
    return preset if preset in _classification_models() else None


def torchvision_weights(model: str, preset: str | None = None) -> list[PublishedWeights]:
    """Every ImageNet-1K weights entry of ``model``, from the installed torchvision (no download)."""
    if model not in _classification_models():
        raise InputError(f"'{model}' is not a torchvision classification model")
    enum = torchvision.models.get_model_weights(model)
    default = enum.DEFAULT
    family = query_to_dict(PRESETS[preset])["family"] if preset in PRESETS else None
    out = []
    for weights in enum:
        meta = weights.meta
        metrics = meta.get("_metrics", {}).get("ImageNet-1K")
        if metrics is None or math.isnan(float(metrics.get("acc@1", math.nan))):
            continue  # e.g. VGG16's IMAGENET1K_FEATURES: a feature extractor, no accuracy
        transforms = getattr(weights.transforms, "keywords", {})
        out.append(
            PublishedWeights(
                model=model,
                preset=preset,
                family=family,
                weights=weights.name,
                default=weights is default,
                top1=float(metrics["acc@1"]),
                top5=float(metrics["acc@5"]),
                gmacs=float(meta["_ops"]),
                params=int(meta["num_params"]),
                crop_size=int(transforms.get("crop_size", 224)),
                resize_size=transforms.get("resize_size"),
                recipe=str(meta.get("recipe", "")),
            )
        )
    return out


def published_accuracies(which: str = "default") -> list[PublishedWeights]:
    """The published weights of every preset that torchvision also has, in preset order.

    which: ``default`` (torchvision's DEFAULT weights: its best recipe), ``v1`` (IMAGENET1K_V1: the
    original papers' recipes, comparable across families) or ``all``.
    """
    if which not in ("default", "v1", "all"):
        raise InputError(f"which must be default, v1 or all, not '{which}'")
    out = []
    for preset in PRESETS:
        model = torchvision_name(preset)
        if model is None:
            continue
        for entry in torchvision_weights(model, preset):
            chosen = entry.default if which == "default" else entry.weights == "IMAGENET1K_V1"
            if which == "all" or chosen:
                out.append(entry)
    return out


@dataclass(frozen=True)
class PaperFigure:
    """A row of the MobileNetV1 paper: ImageNet top-1 (%), million mult-adds, million parameters."""

    alpha: float
    resolution: int
    top1: float
    mmacs: float
    mparams: float


#: Howard et al. (2017), Table 6 (width multiplier at 224 px) and Table 7 (resolution at alpha 1).
MOBILENET_V1_PAPER: tuple[PaperFigure, ...] = (
    PaperFigure(1.0, 224, 70.6, 569, 4.2),
    PaperFigure(0.75, 224, 68.4, 325, 2.6),
    PaperFigure(0.5, 224, 63.7, 149, 1.3),
    PaperFigure(0.25, 224, 50.6, 41, 0.5),
    PaperFigure(1.0, 192, 69.1, 418, 4.2),
    PaperFigure(1.0, 160, 67.2, 290, 4.2),
    PaperFigure(1.0, 128, 64.4, 186, 4.2),
)
