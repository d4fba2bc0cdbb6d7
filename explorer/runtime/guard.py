"""Refuse work that would not fit, before allocating anything.

The estimate is weights + activations for the requested batch, from the meta-device profile:
weights (float32) once, plus activations x batch, doubled for training (gradients of the weights
and the stored activations the backward pass reads). The budget is half of the device's free
memory (``EXPLORER_MEMORY_BUDGET_MB`` overrides it), leaving room for the app and the allocator.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from explorer.analysis.profile import Profile
from explorer.runtime.device import free_memory_bytes

BUDGET_FRACTION = 0.5


class TooLargeError(ValueError):
    """The requested work would not fit in the budget; the message names the estimate."""


@dataclass(frozen=True)
class MemoryEstimate:
    weight_bytes: int
    activation_bytes: int
    batch: int
    training: bool

    @property
    def total_bytes(self) -> int:
        factor = 2 if self.training else 1
        return factor * (self.weight_bytes + self.activation_bytes * self.batch)


def estimate(profile: Profile, batch: int = 1, training: bool = False) -> MemoryEstimate:
    return MemoryEstimate(profile.weight_bytes, profile.activation_bytes, batch, training)


def budget_bytes(device: torch.device) -> int:
    override = os.environ.get("EXPLORER_MEMORY_BUDGET_MB")
    if override:
        return int(float(override) * 1e6)
    return int(free_memory_bytes(device) * BUDGET_FRACTION)


def fit_note(profile: Profile, device: torch.device, batch: int = 1) -> tuple[bool, str]:
    """Whether a forward pass at ``batch`` fits the device's budget, and a sentence saying so."""
    need = estimate(profile, batch).total_bytes
    budget = budget_bytes(device)
    fits = need <= budget
    verdict = "fits" if fits else "does NOT fit"
    return (
        fits,
        f"A forward pass at batch {batch} needs about {need / 1e6:,.0f} MB: {verdict} the "
        f"{budget / 1e9:.1f} GB budget on {device.type}.",
    )


def check_fits(profile: Profile, device: torch.device, batch: int = 1, training: bool = False) -> MemoryEstimate:
    """Return the estimate, or raise TooLargeError with a message a person can act on."""
    need = estimate(profile, batch, training)
    budget = budget_bytes(device)
    if need.total_bytes > budget:
        what = "training" if training else "a forward pass"
        raise TooLargeError(
            f"{profile.query} needs about {need.total_bytes / 1e9:.1f} GB for {what} at batch {batch} "
            f"(weights {need.weight_bytes / 1e9:.2f} GB + activations {need.activation_bytes * batch / 1e9:.2f} GB"
            f"{', x2 for gradients' if training else ''}), more than the {budget / 1e9:.1f} GB budget on "
            f"{device.type}; lower the resolution, depth or width, or the batch size"
        )
    return need
