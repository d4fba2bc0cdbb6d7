"""Refuse work that would not fit, before allocating anything.

A forward pass needs weights (float32) once plus the activations of every layer x batch, from the
meta-device profile. Training needs the weights four times over (the weights, their gradients and
Adam's two moments) plus what autograd saves for the backward pass at that batch, counted on the
meta device by :func:`explorer.measure.memory.training_memory` (each saved storage once).
The counts come from ``explorer.measure``, the layer below this one.
The budget is half of the device's free memory (``EXPLORER_MEMORY_BUDGET_MB`` overrides it),
leaving room for the app and the allocator.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

from explorer.config import parse_query
from explorer.errors import InputError
from explorer.knobs import ModelConfig
from explorer.measure.memory import training_memory_or_smallest_batch
from explorer.measure.profile_data import Profile
from explorer.runtime.device import free_memory_bytes

BUDGET_FRACTION = 0.5
#: Copies of the weights a training step holds: weights, gradients, Adam's first and second moments.
TRAINING_WEIGHT_COPIES = 4


class TooLargeError(InputError):
    """The requested work would not fit in the budget; the message names the estimate."""


@dataclass(frozen=True)
class MemoryEstimate:
    weight_bytes: int
    activation_bytes: int
    batch: int
    training: bool
    #: Bytes autograd saves for backward at ``batch`` (training estimates only).
    saved_bytes: int = 0

    @property
    def total_bytes(self) -> int:
        if self.training:
            return TRAINING_WEIGHT_COPIES * self.weight_bytes + self.saved_bytes
        return self.weight_bytes + self.activation_bytes * self.batch


def estimate(
    profile: Profile, batch: int = 1, training: bool = False, *, config: ModelConfig | None = None
) -> MemoryEstimate:
    """Bytes ``profile``'s model needs at ``batch``, for a forward pass or a training step.

    A training estimate counts what autograd saves, which needs the config: pass it as ``config``
    when you have it; a caller holding only a profile (a stored or cached one, named by its query)
    may leave it out, and the profile's query is parsed.
    """
    saved = 0
    if training:
        config = config if config is not None else parse_query(profile.query)
        # where batch 1 cannot train, batch 2's count: an upper bound, as an estimate before allocating should be
        saved = training_memory_or_smallest_batch(config, batch).saved_bytes
    return MemoryEstimate(profile.weight_bytes, profile.activation_bytes, batch, training, saved)


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


def check_fits(
    profile: Profile,
    device: torch.device,
    batch: int = 1,
    training: bool = False,
    *,
    config: ModelConfig | None = None,
) -> MemoryEstimate:
    """Return the estimate, or raise TooLargeError with a message a person can act on
    (``config``: see :func:`estimate`)."""
    need = estimate(profile, batch, training, config=config)
    budget = budget_bytes(device)
    if need.total_bytes > budget:
        what = "training" if training else "a forward pass"
        raise TooLargeError(
            f"{profile.query} needs about {need.total_bytes / 1e9:.1f} GB for {what} at batch {batch} "
            f"({_parts(need)}), more than the {budget / 1e9:.1f} GB budget on "
            f"{device.type}; lower the resolution, depth or width, or the batch size"
        )
    return need


def _parts(need: MemoryEstimate) -> str:
    if need.training:
        return (
            f"weights, gradients and optimiser state {TRAINING_WEIGHT_COPIES * need.weight_bytes / 1e9:.2f} GB"
            f" + tensors saved for backward {need.saved_bytes / 1e9:.2f} GB"
        )
    return f"weights {need.weight_bytes / 1e9:.2f} GB + activations {need.activation_bytes * need.batch / 1e9:.2f} GB"
