"""Family builders; importing this package registers every family, its builder and its presets.

A new family is one module here: a config dataclass (``@register_family``), a builder
(``@register_builder``) and its presets (``register_preset``).
"""

from __future__ import annotations

from contextlib import nullcontext

import torch

from explorer.config import ModelConfig
from explorer.families import densenet, efficientnet, mobilenet, plain, resnet, vgg  # noqa: F401
from explorer.families.base import BUILDERS, BuiltModel, Stage

__all__ = ["build", "BuiltModel", "Stage"]


def build(config: ModelConfig, device: str | torch.device | None = None) -> BuiltModel:
    """Instantiate the model of ``config``. ``device="meta"`` builds shapes only (no memory)."""
    context = torch.device(device) if device is not None else nullcontext()
    with context:
        built = BUILDERS[type(config)](config)
    return built
