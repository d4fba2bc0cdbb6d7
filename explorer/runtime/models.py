"""Real models on a real device, only after the memory estimate says they fit.

Weights are always drawn on the CPU and then moved: CUDA's random generator is not the CPU's, so a
model built directly on a GPU would have other weights than the same config built on a laptop.
Drawn on the CPU, the same config and seed give bit-identical weights on every device.
"""

from __future__ import annotations

import threading

import torch

from explorer.families import BuiltModel, build
from explorer.knobs import ModelConfig
from explorer.measure.profile import profile
from explorer.runtime.guard import check_fits

__all__ = ["build_on", "build_seeded", "instantiate"]

#: fork_rng and manual_seed touch the process-wide CPU generator: one seeded build at a time.
_SEEDED_BUILD_LOCK = threading.Lock()


def build_on(config: ModelConfig, device: str | torch.device | None = None, seed: int | None = None) -> BuiltModel:
    """Build ``config`` with weights drawn on the CPU (from ``seed`` when given), then moved to ``device``.

    With a seed the global RNG is left as it was (a forked generator), so a server shared
    between sessions never has its seed set by one of them. ``device="meta"`` builds shapes only.
    """
    if seed is None or torch.device(device or "cpu").type == "meta":
        return build(config, device)
    with _SEEDED_BUILD_LOCK, torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build(config, device)  # draws on the CPU, then moves (see explorer.families.build)


def build_seeded(config: ModelConfig, seed: int = 0, device: str | torch.device | None = None) -> BuiltModel:
    """Build ``config`` with weights drawn from ``seed``: the same weights on every device."""
    return build_on(config, device, seed)


def instantiate(
    config: ModelConfig,
    device: torch.device | str = "cpu",
    batch: int = 1,
    training: bool = False,
    seed: int | None = None,
) -> BuiltModel:
    """Build ``config`` with real weights on ``device``, in eval mode unless ``training``.

    Raises ``explorer.runtime.guard.TooLargeError`` (a ValueError naming the estimate) before allocating
    anything when weights + activations for ``batch`` would not fit the device's budget.
    ``seed`` draws the weights reproducibly (see :func:`build_on`).
    """
    device = torch.device(device)
    check_fits(profile(config), device, batch=batch, training=training, config=config)
    built = build_on(config, device, seed)
    built.module.train(training)
    return built
