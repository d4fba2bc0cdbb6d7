"""Family builders; importing this package registers every family, its builder and its presets.

A new family is one module here: a config dataclass (``@register_family``), a builder
(``@register_builder``) and its presets (``register_preset``).
"""

from __future__ import annotations

import torch

from explorer.config import FAMILIES, ModelConfig
from explorer.families import (  # noqa: F401
    alexnet,
    blocks,
    densenet,
    efficientnet,
    googlenet,
    inception,
    mobilenet,
    plain,
    resnet,
    vgg,
)
from explorer.families.base import BUILDERS, BuiltModel, Stage

__all__ = ["BuiltModel", "Stage", "build"]

#: The order families are offered in (registration follows import order, which is alphabetical).
FAMILY_ORDER = (
    "resnet",
    "densenet",
    "mobilenet_v1",
    "mobilenet_v2",
    "mobilenet_v3",
    "efficientnet",
    "vgg",
    "alexnet",
    "googlenet",
    "inception_v3",
    "plain",
    "blocks",
)
_registered = dict(FAMILIES)
FAMILIES.clear()
FAMILIES.update({name: _registered[name] for name in FAMILY_ORDER})
FAMILIES.update(_registered)


def build(config: ModelConfig, device: str | torch.device | None = None) -> BuiltModel:
    """Instantiate the model of ``config``. ``device="meta"`` builds shapes only (no memory).

    On any real device the weights are drawn on the CPU and then moved there: CUDA's random
    generator is not the CPU's, so the same seed gives the same weights on every device.
    """
    target = torch.device(device) if device is not None else torch.device("cpu")
    with torch.device("meta" if target.type == "meta" else "cpu"):
        built = BUILDERS[type(config)](config)
    if target.type not in ("meta", "cpu"):
        built.module.to(target)
    return built
