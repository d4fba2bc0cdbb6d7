"""Real models on a real device, only after the memory estimate says they fit."""

from __future__ import annotations

import torch

from explorer.analysis.profile import profile
from explorer.config import ModelConfig
from explorer.families import BuiltModel, build
from explorer.guard import check_fits


def instantiate(
    config: ModelConfig, device: torch.device | str = "cpu", batch: int = 1, training: bool = False
) -> BuiltModel:
    """Build ``config`` with real weights on ``device``, in eval mode unless ``training``.

    Raises ``explorer.guard.TooLargeError`` (a ValueError naming the estimate) before allocating
    anything when weights + activations for ``batch`` would not fit the device's budget.
    """
    device = torch.device(device)
    check_fits(profile(config), device, batch=batch, training=training)
    built = build(config, device=device)
    built.module.train(training)
    return built
