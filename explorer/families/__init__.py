"""The families; importing this package registers every family's config and presets, no torch.

A new family is two modules: ``families/<name>.py``, its config dataclass (``@register_family``),
knobs, scaling and presets (``register_preset``), importing no torch; and ``families/nets/<name>.py``,
its torch modules and builder (``@register_builder``), imported by :func:`build` on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

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

if TYPE_CHECKING:
    import torch

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
    import torch

    import explorer.families.nets  # noqa: F401  (registers the builders)

    target = torch.device(device) if device is not None else torch.device("cpu")
    with torch.device("meta" if target.type == "meta" else "cpu"):
        built = BUILDERS[type(config)](config)
    if target.type not in ("meta", "cpu"):
        built.module.to(target)
    return built
