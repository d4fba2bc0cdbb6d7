"""The material's timeline, live: each architecture from AlexNet (2012) to EfficientNet (2019) and the
hybrid that ends the material, with its cost measured here and its accuracy as published.

Parameters and MACs are this app's own counts (:func:`explorer.measure.profile.profile` of the
preset, so they follow the counting convention of the rest of the app). Accuracies are published
ImageNet-1K top-1 figures: torchvision's IMAGENET1K_V1 weights (the original papers' recipes,
comparable across the timeline) from the installed package's metadata, and, for MobileNet V1, which
torchvision lacks, the paper's Table 6. The hybrids were never trained on ImageNet: no accuracy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from explorer.analysis.published import MOBILENET_V1_PAPER, published_accuracies
from explorer.config import preset_config
from explorer.knobs import ModelConfig
from explorer.measure.profile import Profile, profile

__all__ = ["MILESTONES", "Milestone", "TimelineRow", "timeline"]


@dataclass(frozen=True)
class Milestone:
    year: int
    name: str
    preset: str
    #: The idea it contributed, in one line.
    idea: str
    paper: str


MILESTONES: tuple[Milestone, ...] = (
    Milestone(2012, "AlexNet", "alexnet", "ReLU, dropout and GPUs: a deep convnet wins ImageNet", "Krizhevsky et al."),
    Milestone(2014, "VGG-16", "vgg16", "depth from stacks of 3x3 convolutions", "Simonyan & Zisserman"),
    Milestone(2014, "GoogLeNet", "googlenet", "Inception modules: parallel branches, 1x1 squeezes", "Szegedy et al."),
    Milestone(2015, "Inception-v3", "inception_v3", "factorised convolutions (n x 1 then 1 x n)", "Szegedy et al."),
    Milestone(2015, "ResNet-50", "resnet50", "identity shortcuts: very deep nets train", "He et al."),
    Milestone(2017, "DenseNet-121", "densenet121", "every layer reads all earlier feature maps", "Huang et al."),
    Milestone(2017, "MobileNet V1", "mobilenet_v1", "depthwise separable convs (~1/9 the cost)", "Howard et al."),
    Milestone(2018, "MobileNet V2", "mobilenet_v2", "inverted residuals and linear bottlenecks", "Sandler et al."),
    Milestone(2019, "MobileNet V3", "mobilenet_v3_large", "searched blocks, SE, h-swish", "Howard et al."),
    Milestone(2019, "EfficientNet-B0", "efficientnet_b0", "compound scaling: depth, width, resolution", "Tan & Le"),
    Milestone(2019, "Hybrid (MBConv)", "hybrid_efficient", "blocks of several families in one net", "the material"),
    Milestone(2019, "Hybrid (residual)", "hybrid_resnet", "blocks of several families in one net", "the material"),
)


@dataclass(frozen=True)
class TimelineRow:
    milestone: Milestone
    query: str
    params: int
    macs: int
    resolution: int
    #: Published ImageNet-1K top-1 (%), or None (never trained on ImageNet).
    top1: float | None
    #: Whose figure ``top1`` is.
    source: str | None


def _published_top1() -> dict[str, tuple[float, str]]:
    found = {e.preset: (e.top1, f"torchvision {e.model} {e.weights}") for e in published_accuracies("v1") if e.preset}
    paper = next(f for f in MOBILENET_V1_PAPER if f.alpha == 1.0 and f.resolution == 224)
    found.setdefault("mobilenet_v1", (paper.top1, "Howard et al. (2017), Table 6"))
    return found


def timeline(profiler: Callable[[ModelConfig], Profile] = profile) -> list[TimelineRow]:
    """Every milestone with its measured cost and published accuracy, in time order."""
    published = _published_top1()
    rows = []
    for milestone in MILESTONES:
        result = profiler(preset_config(milestone.preset))
        top1, source = published.get(milestone.preset, (None, None))
        rows.append(TimelineRow(milestone, result.query, result.params, result.macs, result.resolution, top1, source))
    return rows
