"""Short, live training runs on the generated shapes data set, one record per step.

:func:`train` is a generator: it yields a :class:`StepRecord` after every optimiser step, so a page
can stream the loss and the curves and stop at any time (stop iterating; ``close()`` it to free the
model at once). It trains a private copy (``copy.deepcopy``) of the model it is given, or a model it
builds itself, so a model cached for other browser sessions is never touched.

Every ``record_every`` steps (and at the first and the last step) the step itself is measured: the
training batch's forward and backward run under the signal-flow hooks of
:mod:`explorer.analysis.signal`, so the record carries activation std, output-gradient norm and
weight-gradient norm per conv/linear layer at that point of training, at no extra pass.

:func:`train_on_shapes` is the one trainer behind "Train on shapes" (Saliency, Deformable) and the
CLI: it builds a fresh model from a seed, trains it with Adam for a step or time budget and measures
its held-out accuracy.

Conventions: inputs standardised as in :mod:`explorer.analysis.signal`; labels are shape classes
(modulo the model's ``classes``); loss = mean cross-entropy; accuracy = top-1 on the step's batch
(before the step's update). Step ``k`` (1-based) draws images ``[(k-1)*batch, k*batch)`` of the
data set with ``seed``, so a run is reproducible.
"""

from __future__ import annotations

import copy
import dataclasses
import enum
import math
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from explorer.analysis.signal import (
    INPUT_MEAN,
    INPUT_STD,
    SignalResult,
    stage_starts,
    tracing,
    weighted_layers,
)
from explorer.config import ModelConfig, format_query
from explorer.data.shapes import CLASSES, DEFAULT_RESOLUTION, DEFAULT_VERSION, ShapesDataset, generate
from explorer.families import BuiltModel
from explorer.runtime.device import full_float32
from explorer.runtime.hooks import hooked, model_lock
from explorer.runtime.models import build_seeded
from explorer.runtime.weights import ExplainableModel

if TYPE_CHECKING:
    from explorer.runtime.shipped import ShippedModel

__all__ = [
    "OPTIMIZERS",
    "SCHEDULES",
    "TEACHING",
    "TEACHING_MACS",
    "TEACHING_NETS",
    "RunState",
    "ShapesRun",
    "ShapesScores",
    "StepRecord",
    "TeachingChoice",
    "TrainSettings",
    "TrainingRun",
    "shapes_accuracy",
    "shapes_config",
    "shapes_scores",
    "teaching_model",
    "train",
    "train_on_shapes",
]

OPTIMIZERS = ("sgd", "adam")
#: Learning-rate schedules: constant, or cosine decay to zero over ``steps`` (short runs converge
#: further with the decay: the last steps average out the noise of a large constant step).
SCHEDULES = ("constant", "cosine")
#: Held-out images for the accuracy of a shapes training.
HELD_OUT = 128


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
    #: One of :data:`SCHEDULES`.
    schedule: str = "constant"
    #: The data: shapes drawn at a random rotation (off: upright, an easier task that small nets
    #: learn in seconds), and the shape's radius range as a fraction of half the side (None: the
    #: shapes version's own range).
    rotate: bool = True
    scale: tuple[float, float] | None = None
    #: A fixed training set of this many images, rendered once before the first step and drawn in a
    #: seeded random order each epoch (0: a fresh image for every slot of every batch, rendered as
    #: the run goes; rendering then costs about as much as the step on a CPU).
    images: int = 0
    #: Held-out images (of seed ``seed + 1``, same rotation and scale) the last step's record is
    #: scored on (0: not measured).
    held_out: int = 0

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer '{self.optimizer}'; allowed: {', '.join(OPTIMIZERS)}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule '{self.schedule}'; allowed: {', '.join(SCHEDULES)}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr={self.lr}; allowed: a positive number")
        if self.steps < 1:
            raise ValueError(f"steps={self.steps}; allowed: 1 or more")
        if self.batch < 2:
            raise ValueError(f"batch={self.batch}; allowed: 2 or more (batch norm needs batch statistics)")
        if self.record_every < 1:
            raise ValueError(f"record_every={self.record_every}; allowed: 1 or more")
        if self.images < 0 or self.held_out < 0:
            raise ValueError(f"images={self.images}, held_out={self.held_out}; allowed: 0 or more")
        if self.images and self.images < self.batch:
            raise ValueError(f"images={self.images}; allowed: 0, or at least the batch ({self.batch})")
        if self.scale is not None:
            object.__setattr__(self, "scale", (float(self.scale[0]), float(self.scale[1])))

    def dataset(self, side: int, in_channels: int, seed: int | None = None) -> ShapesDataset:
        """The shapes these settings train on (``seed``: another seed's images, e.g. held out)."""
        return ShapesDataset(
            resolution=side,
            in_channels=in_channels,
            seed=self.seed if seed is None else seed,
            rotate=self.rotate,
            scale=self.scale,
        )


#: "Train and watch" from fresh weights, the recipe measured for a class on a CPU
#: (``bench/bench_teaching.py``): upright shapes at 16 px, radius 0.5-0.9 of half the side, 4,096
#: images rendered once, Adam 2e-3, batch 64, 200 steps; accuracy on 512 held-out images at the end.
#: ResNet-8 (CIFAR stem, width 16) reaches 95.7 % held-out in 5.2 s on one thread of a 2-core CPU.
TEACHING = TrainSettings(
    optimizer="adam",
    lr=2e-3,
    steps=200,
    batch=64,
    record_every=10,
    resolution=16,
    rotate=False,
    scale=(0.5, 0.9),
    images=4096,
    held_out=512,
)
#: A model above this many MACs (batch 1, at the recipe's side) is too slow for a live run on a CPU:
#: "Train and watch" then trains the small net of its family (:data:`TEACHING_NETS`) instead.
TEACHING_MACS = 4_000_000
#: Per family, the small net trained in its place (families not listed: ResNet-8's).
TEACHING_NETS: dict[str, str] = {
    "resnet": "family=resnet&stem=cifar&depth=8&width=16&classes=8",
    "plain": "family=plain&depth=8&width=16&classes=8",
}


@dataclass(frozen=True)
class TeachingChoice:
    """What "Train and watch" trains for a config (see :func:`teaching_model`)."""

    #: The config asked for, its MACs (batch 1) at ``side`` px, and what is trained instead.
    asked: ModelConfig
    side: int
    macs: int
    config: ModelConfig

    @property
    def swapped(self) -> bool:
        """The asked config was too slow to learn live: a small net is trained in its place."""
        return self.macs > TEACHING_MACS

    @property
    def family_net(self) -> bool:
        """The small net is of the asked config's own family (else ResNet-8)."""
        return self.asked.family in TEACHING_NETS

    @property
    def small_query(self) -> str:
        return TEACHING_NETS.get(self.asked.family, TEACHING_NETS["resnet"])


def teaching_model(config: ModelConfig, side: int, macs: int) -> TeachingChoice:
    """What "Train and watch" trains for ``config`` at ``side`` px (``macs``: its MACs there, batch 1):
    the config itself (8 outputs) when it is small enough, else its family's small net."""
    from explorer.config import parse_query

    if macs <= TEACHING_MACS:
        return TeachingChoice(config, side, macs, dataclasses.replace(config, classes=len(CLASSES)))
    return TeachingChoice(config, side, macs, parse_query(TEACHING_NETS.get(config.family, TEACHING_NETS["resnet"])))


@dataclass(frozen=True)
class StepRecord:
    step: int
    steps: int
    loss: float
    accuracy: float
    elapsed_s: float
    #: The signal flow measured on this step's batch (None between record steps).
    signal: SignalResult | None = field(default=None, repr=False)
    #: Top-1 accuracy on ``settings.held_out`` held-out images after the last step (else None).
    held_out_accuracy: float | None = None

    @property
    def diverged(self) -> bool:
        return not math.isfinite(self.loss)

    @property
    def fraction(self) -> float:
        return self.step / self.steps


class RunState(enum.Enum):
    """How a live run stands: going (or stopped by the user), diverged, or run to its end."""

    STOPPED = "stopped"
    DIVERGED = "diverged"
    FINISHED = "finished"


@dataclass
class TrainingRun:
    """A live "Train and watch" run as a page keeps it between reruns: what is trained, how, where,
    the records so far, and whether it ran to the end (a run stopped by the user has not)."""

    query: str
    settings: TrainSettings
    device: str
    records: list[StepRecord] = field(default_factory=list)
    finished: bool = False

    @property
    def last(self) -> StepRecord | None:
        return self.records[-1] if self.records else None

    @property
    def state(self) -> RunState:
        last = self.last
        if last is not None and last.diverged:
            return RunState.DIVERGED
        return RunState.FINISHED if self.finished else RunState.STOPPED

    @property
    def snapshots(self) -> list[StepRecord]:
        """The records that carry a signal-flow measurement."""
        return [r for r in self.records if r.signal is not None]


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
    data = _batches(settings, side, config.in_channels, target)
    layers = weighted_layers(model)
    optimizer = _optimizer(model, settings)
    scheduler = None
    if settings.schedule == "cosine":
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda done: 0.5 * (1 + math.cos(math.pi * min(done, settings.steps) / settings.steps))
        )
    query = format_query(config)
    model.train()
    start = time.perf_counter()
    for step in range(1, settings.steps + 1):
        x, labels = next(data)
        y = labels % config.classes
        measure = step == 1 or step == settings.steps or step % settings.record_every == 0
        optimizer.zero_grad(set_to_none=True)
        # Entered per step, not around the generator: a suspended run must not hold the switches.
        with _precision(settings, target):
            logits, loss, result = _step(model, built, layers, x, y, measure, settings, query, side)
        loss_value = float(loss.detach())
        accuracy = float((logits.detach().argmax(1) == y).float().mean())
        if math.isfinite(loss_value):
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
        held_out = None
        if settings.held_out and step == settings.steps and math.isfinite(loss_value):
            held_out = _held_out_accuracy(built, settings, side, config.classes)
        elapsed = time.perf_counter() - start
        yield StepRecord(step, settings.steps, loss_value, accuracy, elapsed, result, held_out)
        if not math.isfinite(loss_value):
            return


def _batches(
    settings: TrainSettings, side: int, in_channels: int, device: torch.device
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Standardised images and labels, on ``device``, one batch per step (see :class:`TrainSettings`).

    A fixed set (``settings.images``) is rendered and standardised once, moved to the device once,
    and drawn in the order of ``torch.randperm`` seeded with ``settings.seed`` (one permutation per
    epoch, drawn on the CPU, so the order is the same on every device); a batch never straddles two
    epochs. Without one, step ``k`` draws images ``[(k-1)*batch, k*batch)`` of the endless set.
    """
    dataset = settings.dataset(side, in_channels)
    if not settings.images:
        for shapes in dataset.batches(settings.batch):
            yield ((shapes.images - INPUT_MEAN) / INPUT_STD).to(device), shapes.labels.to(device)
        return
    rendered = dataset.batch(range(settings.images))
    images = ((rendered.images - INPUT_MEAN) / INPUT_STD).to(device)
    labels = rendered.labels.to(device)
    order = torch.Generator().manual_seed(settings.seed)
    per_epoch = settings.images // settings.batch
    while True:
        permutation = torch.randperm(settings.images, generator=order)
        for i in range(per_epoch):
            index = permutation[i * settings.batch : (i + 1) * settings.batch].to(device)
            yield images[index], labels[index]


def _held_out_accuracy(built: BuiltModel, settings: TrainSettings, side: int, classes: int, chunk: int = 256) -> float:
    """Top-1 accuracy of ``built`` on ``settings.held_out`` images of seed ``settings.seed + 1``
    (eval mode, no gradients, at the training's precision)."""
    config = built.config
    device = next(built.module.parameters()).device
    dataset = settings.dataset(side, config.in_channels, seed=settings.seed + 1)
    correct = 0
    for first in range(0, settings.held_out, chunk):
        shapes = dataset.batch(range(first, min(settings.held_out, first + chunk)))
        x = ((shapes.images - INPUT_MEAN) / INPUT_STD).to(device)
        with _precision(settings, device), hooked(built.module, training=False), torch.no_grad():
            logits = built.module(x)
        correct += int((logits.argmax(1) == (shapes.labels % classes).to(device)).sum())
    return correct / settings.held_out


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


# -- the one shapes trainer (Saliency, Deformable, the CLI) -----------------------------------------
@dataclass(frozen=True)
class ShapesRun:
    """A model trained on shapes by :func:`train_on_shapes`, with what the run measured."""

    model: ExplainableModel
    steps: int
    side: int
    losses: tuple[float, ...]
    seconds: float


def shapes_config(config: ModelConfig, resolution: int | None = None) -> ModelConfig:
    """``config`` with one output per shape class, at ``resolution`` px at most (and at least the
    family's smallest side).

    ``resolution=None``: the default shapes version's own side (64 px for version 2), whatever the
    config's: a CIFAR-stem net (32 px by default) is then trained and explained at 64 px, so its
    Grad-CAM has 16x16 cells instead of 8x8.
    """
    if resolution is None:
        side = max(config.min_resolution, DEFAULT_RESOLUTION[DEFAULT_VERSION])
    else:
        side = max(config.min_resolution, min(config.input_resolution, resolution))
    return dataclasses.replace(config, classes=len(CLASSES), resolution=side)


#: Adam's learning rate when training starts from a shipped model (a fifth of a fresh run's 1e-3):
#: a short run then refines what the model learned instead of shaking it loose.
WARM_START_LR = 2e-4


def warm_start_for(config: ModelConfig, resolution: int | None = None) -> ShippedModel | None:
    """The shipped model whose architecture is exactly ``config``'s shapes version (same layers and
    tensor shapes), to train from (load it with ``load_shipped``); None when none matches."""
    from explorer.runtime.shipped import same_architecture, shipped_for

    shipped = shipped_for(config)
    if shipped is None or not same_architecture(shapes_config(config, resolution), shipped.config):
        return None
    return shipped


def private_copy(model: ExplainableModel) -> BuiltModel:
    """A copy of ``model``'s network that training may change (a cached model is shared)."""
    with model_lock(model.built.module):  # never copy a model in the middle of someone's analysis
        return BuiltModel(model.built.config, copy.deepcopy(model.built.module), model.built.stages)


def train_on_shapes(
    config: ModelConfig,
    *,
    steps: int | None = None,
    seconds: float = math.inf,
    device: torch.device | str = "cpu",
    seed: int = 0,
    resolution: int | None = None,
    batch: int = 32,
    lr: float = 1e-3,
    schedule: str = "constant",
    autocast: bool = False,
    held_out: int = HELD_OUT,
    rotate: bool = True,
    scale: tuple[float, float] | None = None,
    images: int = 0,
    built: BuiltModel | None = None,
    start: ExplainableModel | None = None,
    progress: Callable[[StepRecord], None] | None = None,
) -> ShapesRun:
    """Train ``config``'s architecture (see :func:`shapes_config`) on the shapes data set with Adam
    for ``steps`` steps or ``seconds``, whichever ends first (``steps=None``: the time budget
    alone); measure top-1 accuracy on ``held_out``
    images of another seed (0: not measured). ``schedule="cosine"`` decays the learning rate to
    zero over ``steps`` (a step budget is then needed).

    The model is built here from ``seed`` (a forked RNG: the global seed is left alone, so a server
    shared between sessions is not disturbed), unless ``built`` (a private model of
    ``shapes_config(config, resolution)``, trained in place) is given, or ``start`` (a trained model
    of that architecture, e.g. :func:`warm_start_for`'s: a private copy of it is trained, at
    ``resolution`` or else at the start's own side, and the description says it started there).
    ``rotate``, ``scale`` and ``images`` pick the data as :class:`TrainSettings` does (the held-out
    images are drawn the same way). ``progress(record)`` is
    called after every step. A run whose loss stops being finite raises ValueError.
    """
    from explorer.runtime.models import instantiate

    if steps is None:
        if not math.isfinite(seconds):
            raise ValueError("give a number of steps, a time budget in seconds, or both")
        steps = 10**9
    if steps < 1:
        raise ValueError(f"train steps {steps}; allowed: 1 or more")
    if not seconds > 0:
        raise ValueError(f"time budget {seconds} s; allowed: more than 0")
    if schedule != "constant" and steps == 10**9:
        raise ValueError(f"schedule '{schedule}' needs a number of steps")
    small = shapes_config(config, resolution)
    if start is not None:
        # the start's layers at the side asked for, else at the start's own (not capped at the config's:
        # the side is not part of the weights, and a model may be refined at a larger picture)
        side = max(config.min_resolution, resolution or start.built.config.input_resolution)
        small = dataclasses.replace(small, resolution=side)
        built = dataclasses.replace(private_copy(start), config=small)
        built.module.to(device)
    if built is None:
        built = instantiate(small, device, batch=batch, training=True, seed=seed)
    settings = TrainSettings(
        optimizer="adam",
        lr=lr,
        steps=steps,
        batch=batch,
        seed=seed,
        record_every=10**9,
        autocast=autocast,
        schedule=schedule,
        rotate=rotate,
        scale=scale,
        images=images,
    )
    losses: list[float] = []
    record: StepRecord | None = None
    run = train(small, settings, built=built, private_copy=False)
    try:
        for record in run:
            losses.append(record.loss)
            if progress:
                progress(record)
            if record.diverged:
                raise ValueError(f"training diverged at step {record.step} (loss {record.loss}); try another config")
            if record.elapsed_s >= seconds:
                break
    finally:
        run.close()
    assert record is not None  # steps >= 1
    built.module.eval()
    accuracy = shapes_accuracy(built, seed=seed + 1, n=held_out, rotate=rotate, scale=scale) if held_out else None
    where = torch.device(device).type if device is not None else "cpu"
    measured = f" ({accuracy:.0%} accuracy on {held_out} held-out images)" if accuracy is not None else ""
    origin = f", starting from the {start.weights}" if start is not None else ""
    model = ExplainableModel(
        built,
        f"trained here on generated shapes for {record.step} steps at {small.input_resolution} px on {where}"
        f"{origin}"
        f"{', bf16 autocast' if autocast else ''}{measured}",
        CLASSES,
        accuracy=accuracy,
        mean=(INPUT_MEAN,),
        std=(INPUT_STD,),
    )
    return ShapesRun(model, record.step, small.input_resolution, tuple(losses), record.elapsed_s)


def shapes_accuracy(
    built: BuiltModel,
    seed: int = 1,
    n: int = HELD_OUT,
    rotate: bool = True,
    scale: tuple[float, float] | None = None,
) -> float:
    """Top-1 accuracy on ``n`` shapes images of ``seed`` (full float32, on the model's device)."""
    config = built.config
    batch = generate(
        n, resolution=config.input_resolution, in_channels=config.in_channels, seed=seed, rotate=rotate, scale=scale
    )
    device = next(built.module.parameters()).device
    with full_float32(), hooked(built.module, training=False), torch.no_grad():
        logits = built.module(((batch.images - INPUT_MEAN) / INPUT_STD).to(device))
    return float((logits.argmax(1) == batch.labels.to(device)).float().mean())


@dataclass(frozen=True)
class ShapesScores:
    """What a shapes model measures on ``n`` held-out images of ``seed``: top-1 accuracy and the
    Grad-CAM pointing game (the map's peak, for the true class, inside the shape's box)."""

    seed: int
    n: int
    accuracy: float
    pointing: float


def shapes_scores(built: BuiltModel, seed: int, n: int, layer: str | None = None, chunk: int = 100) -> ShapesScores:
    """Accuracy and pointing game of ``built`` on images ``0..n-1`` of the shapes data set with ``seed``
    (the default version, at the model's resolution), in chunks of ``chunk`` images."""
    from explorer.analysis.saliency import pointing_hits  # captum: only when a map is wanted

    config = built.config
    device = next(built.module.parameters()).device
    data = ShapesDataset(resolution=config.input_resolution, in_channels=config.in_channels, seed=seed)
    correct = hits = 0
    for start in range(0, n, chunk):
        batch = data.batch(range(start, min(n, start + chunk)))
        x = (batch.images - INPUT_MEAN) / INPUT_STD
        with full_float32(), hooked(built.module, training=False), torch.no_grad():
            logits = built.module(x.to(device))
        correct += int((logits.argmax(1).cpu() == batch.labels).sum())
        hits += int(pointing_hits(built, x, batch.labels, batch.boxes, layer=layer, chunk=chunk).sum())
    return ShapesScores(seed=seed, n=n, accuracy=correct / n, pointing=hits / n)
