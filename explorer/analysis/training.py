"""Short, live training runs on the generated shapes data set, one record per step.

:func:`train` is a generator: it yields a :class:`StepRecord` after every optimiser step, so a page
can stream the loss and the curves and stop at any time (stop iterating; ``close()`` it to free the
model at once). It trains a private copy (``copy.deepcopy``) of the model it is given, or a model it
builds itself, so a model cached for other browser sessions is never touched.

Every ``record_every`` steps (and at the first and the last step) the step itself is measured: the
training batch's forward and backward run under the signal-flow hooks of
:mod:`explorer.analysis.signal`, so the record carries activation std, output-gradient norm and
weight-gradient norm per conv/linear layer at that point of training, at no extra pass.

Conventions: inputs standardised as in :mod:`explorer.analysis.signal`; labels are shape classes
(modulo the model's ``classes``); loss = mean cross-entropy; accuracy = top-1 on the step's batch
(before the step's update). Step ``k`` (1-based) draws images ``[(k-1)*batch, k*batch)`` of the
data set with ``seed``, so a run is reproducible.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from explorer.analysis.signal import (
    INPUT_MEAN,
    INPUT_STD,
    SignalResult,
    model_lock,
    stage_starts,
    tracing,
    weighted_layers,
)
from explorer.config import ModelConfig, format_query
from explorer.data.shapes import ShapesDataset
from explorer.device import full_float32
from explorer.families import BuiltModel
from explorer.models import build_seeded

__all__ = ["OPTIMIZERS", "StepRecord", "TrainSettings", "train"]

OPTIMIZERS = ("sgd", "adam")


@dataclass(frozen=True, kw_only=True)
class TrainSettings:
    optimizer: str = "sgd"
    lr: float = 0.01
    steps: int = 50
    batch: int = 16
    seed: int = 0
    #: Measure the signal flow every this many steps (and at the first and last step).
    record_every: int = 5
    momentum: float = 0.9
    #: Input side for training (None: the config's resolution).
    resolution: int | None = None
    #: Run forward passes under bfloat16 autocast (faster on recent GPUs; results then differ
    #: between devices). Off: every step computes in full float32, TF32 off, on every device.
    autocast: bool = False

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer '{self.optimizer}'; allowed: {', '.join(OPTIMIZERS)}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr={self.lr}; allowed: a positive number")
        if self.steps < 1:
            raise ValueError(f"steps={self.steps}; allowed: 1 or more")
        if self.batch < 2:
            raise ValueError(f"batch={self.batch}; allowed: 2 or more (batch norm needs batch statistics)")
        if self.record_every < 1:
            raise ValueError(f"record_every={self.record_every}; allowed: 1 or more")


@dataclass(frozen=True)
class StepRecord:
    step: int
    steps: int
    loss: float
    accuracy: float
    elapsed_s: float
    #: The signal flow measured on this step's batch (None between record steps).
    signal: SignalResult | None = field(default=None, repr=False)

    @property
    def diverged(self) -> bool:
        return not math.isfinite(self.loss)

    @property
    def fraction(self) -> float:
        return self.step / self.steps


def _optimizer(model: nn.Module, settings: TrainSettings) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if settings.optimizer == "adam":
        return torch.optim.Adam(params, lr=settings.lr)
    return torch.optim.SGD(params, lr=settings.lr, momentum=settings.momentum)


def train(
    config: ModelConfig,
    settings: TrainSettings | None = None,
    built: BuiltModel | None = None,
    device: str | torch.device | None = None,
    private_copy: bool = True,
) -> Iterator[StepRecord]:
    """Train a copy of ``built`` (or a model of ``config`` built from ``settings.seed``); yield each step.

    ``private_copy=False`` trains ``built`` itself, for a caller that owns it (the CLI), never for
    a cached model. Stops early, after yielding the step, when the loss stops being finite.
    """
    settings = settings or TrainSettings()
    if built is None:
        built = build_seeded(config, settings.seed, device)
    elif private_copy:
        with model_lock(built.module):  # never copy a model in the middle of someone's analysis
            built = BuiltModel(built.config, copy.deepcopy(built.module), built.stages)
    model = built.module
    target = next(model.parameters()).device
    if target.type == "meta":
        raise ValueError("training needs real weights, not a meta-device model")
    side = settings.resolution or config.input_resolution
    data = ShapesDataset(resolution=side, in_channels=config.in_channels, seed=settings.seed).batches(settings.batch)
    layers = weighted_layers(model)
    optimizer = _optimizer(model, settings)
    query = format_query(config)
    model.train()
    start = time.perf_counter()
    for step in range(1, settings.steps + 1):
        shapes = next(data)
        x = ((shapes.images - INPUT_MEAN) / INPUT_STD).to(target)
        y = (shapes.labels % config.classes).to(target)
        measure = step == 1 or step == settings.steps or step % settings.record_every == 0
        optimizer.zero_grad(set_to_none=True)
        # Entered per step, not around the generator: a suspended run must not hold the switches.
        with _precision(settings, target):
            logits, loss, result = _step(model, built, layers, x, y, measure, settings, query, side)
        loss_value = float(loss.detach())
        accuracy = float((logits.detach().argmax(1) == y).float().mean())
        if math.isfinite(loss_value):
            optimizer.step()
        yield StepRecord(step, settings.steps, loss_value, accuracy, time.perf_counter() - start, result)
        if not math.isfinite(loss_value):
            return


def _precision(settings: TrainSettings, device: torch.device) -> AbstractContextManager[object]:
    if settings.autocast:
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return full_float32()


def _step(
    model: nn.Module,
    built: BuiltModel,
    layers: dict[str, nn.Module],
    x: torch.Tensor,
    y: torch.Tensor,
    measure: bool,
    settings: TrainSettings,
    query: str,
    side: int,
) -> tuple[torch.Tensor, torch.Tensor, SignalResult | None]:
    """One forward and backward pass (under the signal hooks when ``measure``); no update."""
    result = None
    if measure:
        x.requires_grad_(True)  # so the first layer's output gradient is seen as well
        with tracing(model, layers, training=True) as trace:
            logits = model(x)
            loss = F.cross_entropy(logits.float(), y)
            loss.backward()
            for name in trace.order:
                grad = layers[name].weight.grad
                if grad is not None:
                    trace.weight_grads[name] = torch.linalg.vector_norm(grad.detach().float())
            points = trace.points(built, layers)
        result = SignalResult(
            query=query,
            batch=settings.batch,
            seed=settings.seed,
            resolution=side,
            training=True,
            loss=float(loss.detach()),
            points=points,
            stages=stage_starts(points),
        )
    else:
        logits = model(x)
        loss = F.cross_entropy(logits.float(), y)
        loss.backward()
    return logits, loss, result
