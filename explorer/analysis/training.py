"""Training on the generated shapes data set, one record per step, through one interface.

A :class:`TrainSpec` says everything a run depends on: where the model comes from (exactly one
:data:`ModelSource`: a :class:`Fresh` model built from the seed, a :class:`Copied` private copy of a
shared model, made under its lock, or an :class:`Owned` model trained in place), the
:class:`~explorer.analysis.recipe.TrainSettings` (the recipe: data, optimiser, schedule, seed,
precision, what is recorded, the step budget, held-out images), the time budget, the device and
callbacks. :func:`train` runs it: iterate the :class:`Training` for a :class:`StepRecord` after
every optimiser step, so a page can stream the loss and the curves and stop at any time;
:func:`train_on_shapes` runs it to the end and measures the held-out accuracy (Saliency, Deformable,
the ``train`` and ``gradcam`` commands, the grid search).

Every ``record_every`` steps (and at the first and the last step) the step itself is measured: the
training batch's forward and backward run under the signal-flow hooks of
:mod:`explorer.analysis.signal`, so the record carries activation std, output-gradient norm and
weight-gradient norm per conv/linear layer at that point of training, at no extra pass.

Conventions: inputs standardised (:func:`explorer.data.shapes.standardise`); labels are shape
classes (modulo the model's ``classes``); loss = mean cross-entropy; accuracy = top-1 on the step's
batch (before the step's update); held-out accuracy has one evaluator, :func:`held_out_accuracy`.
Step ``k`` (1-based) draws images ``[(k-1)*batch, k*batch)`` of the data set with ``seed``, so a run
is reproducible.
"""

from __future__ import annotations

import copy
import dataclasses
import enum
import itertools
import math
import time
from collections.abc import Callable, Generator, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from explorer.analysis.recipe import (
    HELD_OUT,
    OPTIMIZERS,
    SCHEDULES,
    SHAPES,
    TEACHING,
    TEACHING_MACS,
    TEACHING_NETS,
    WARM_START_LR,
    TeachingChoice,
    TrainSettings,
    shapes_settings,
    teaching_model,
)
from explorer.analysis.signal import (
    SignalResult,
    stage_starts,
    tracing,
    weighted_layers,
)
from explorer.data.shapes import (
    CLASSES,
    DEFAULT_RESOLUTION,
    DEFAULT_VERSION,
    INPUT_MEAN,
    INPUT_STD,
    ShapesBatch,
    ShapesDataset,
    standardise,
)
from explorer.errors import InputError
from explorer.families import BuiltModel
from explorer.knobs import ModelConfig, format_query
from explorer.measure.hooks import hooked, model_lock
from explorer.runtime.device import full_float32
from explorer.runtime.weights import ExplainableModel

if TYPE_CHECKING:
    from explorer.runtime.shipped import ShippedModel

__all__ = [  # the recipe's names too (explorer.analysis.recipe), where a trainer is imported anyway
    "HELD_OUT",
    "OPTIMIZERS",
    "SCHEDULES",
    "SHAPES",
    "TEACHING",
    "TEACHING_MACS",
    "TEACHING_NETS",
    "WARM_START_LR",
    "Copied",
    "Fresh",
    "ModelSource",
    "Owned",
    "RunState",
    "ShapesRun",
    "ShapesScores",
    "StepRecord",
    "TeachingChoice",
    "TrainSettings",
    "TrainSpec",
    "Training",
    "TrainingRun",
    "held_out_accuracy",
    "private_copy",
    "shapes_config",
    "shapes_scores",
    "shapes_settings",
    "shapes_source",
    "teaching_model",
    "train",
    "train_on_shapes",
]


@dataclass(frozen=True)
class StepRecord:
    step: int
    #: The run's step budget (None: a time budget alone).
    steps: int | None
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
        """How far through the step budget (0 without one)."""
        return self.step / self.steps if self.steps else 0.0


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


# -- the one training interface ------------------------------------------------------------------
@dataclass(frozen=True)
class Fresh:
    """A model of ``config`` built for the run, with weights drawn from the settings' seed (the
    memory guard checks it first: a model too large for the device raises TooLargeError)."""

    config: ModelConfig


@dataclass(frozen=True)
class Owned:
    """``built`` itself, trained in place: only for a caller that owns it (a command's own model),
    never for a model cached for other sessions."""

    built: BuiltModel


@dataclass(frozen=True)
class Copied:
    """A private copy of a shared model (:func:`private_copy`: under its lock), trained as ``config``
    (None: its own; the same layers at another input side, say). ``origin`` names what it is a copy
    of, for the trained model's description (e.g. "shipped model 'resnet8-cifar'")."""

    built: BuiltModel
    config: ModelConfig | None = None
    origin: str | None = None


#: Where a run's model comes from: exactly one of these.
ModelSource = Fresh | Owned | Copied
Callback = Callable[[StepRecord], object]  # what it returns is ignored


@dataclass(frozen=True, kw_only=True)
class TrainSpec:
    """Everything one training depends on. Equal specs give equal runs (bit for bit in one process
    and thread count, in full float32; to float32 rounding on another processor, which sums in another
    order).

    ``model``: where the model comes from (:data:`ModelSource`). ``settings``: the data, the
    optimiser, the schedule, the seed, the precision, what is recorded and the step budget
    (``settings.steps``). ``seconds``: the time budget (None: no time limit); the run ends at
    whichever budget ends first, and at least one is needed. ``callbacks`` are called with every
    step's record, before it is yielded.
    """

    model: ModelSource
    settings: TrainSettings = field(default_factory=TrainSettings)
    seconds: float | None = None
    device: str | torch.device | None = None
    callbacks: tuple[Callback, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.model, (Fresh, Owned, Copied)):
            raise TypeError(f"model: a Fresh, Owned or Copied source, not {type(self.model).__name__}")
        if self.seconds is not None and not self.seconds > 0:
            raise InputError(f"time budget {self.seconds} s; allowed: more than 0, or None (no time limit)")
        if self.settings.steps is None and self.seconds is None:
            raise InputError("a budget is needed: settings.steps, seconds, or both")
        object.__setattr__(self, "callbacks", tuple(self.callbacks))

    @property
    def config(self) -> ModelConfig:
        """The config the run trains."""
        source = self.model
        if isinstance(source, Fresh):
            return source.config
        if isinstance(source, Copied) and source.config is not None:
            return source.config
        return source.built.config


def private_copy(built: BuiltModel) -> BuiltModel:
    """A copy of ``built`` that training may change (a cached model is shared between sessions), made
    under the model's lock so that nobody's hooks are half on it (see ``explorer.measure.hooks``)."""
    with model_lock(built.module):
        return BuiltModel(built.config, copy.deepcopy(built.module), built.stages)


def _model(spec: TrainSpec) -> BuiltModel:
    """The model ``spec`` trains, on its device."""
    source, device = spec.model, spec.device if spec.device is not None else "cpu"
    if isinstance(source, Fresh):
        from explorer.runtime.models import instantiate

        batch = spec.settings.batch
        return instantiate(source.config, device, batch=batch, training=True, seed=spec.settings.seed)
    if isinstance(source, Owned):
        return source.built
    built = dataclasses.replace(private_copy(source.built), config=spec.config)
    built.module.to(device)
    return built


class Training:
    """One run of a :class:`TrainSpec` (made by :func:`train`): iterate for a
    :class:`StepRecord` after every optimiser step; ``model`` is the model being trained (its own, or
    the caller's for an :class:`Owned` source). Stop at any time: stop iterating, or ``close()`` to
    free the run at once."""

    def __init__(self, spec: TrainSpec) -> None:
        self.spec = spec
        self.model = _model(spec)
        self._records = _steps(spec, self.model)

    def __iter__(self) -> Iterator[StepRecord]:
        return self._records

    def __next__(self) -> StepRecord:
        return next(self._records)

    def close(self) -> None:
        self._records.close()

    def finish(self) -> list[StepRecord]:
        """Every remaining record, to the end of the budget; ValueError when the loss stops being finite."""
        records = []
        try:
            for record in self._records:
                records.append(record)
                if record.diverged:
                    raise InputError(
                        f"training diverged at step {record.step} (loss {record.loss}); try another config"
                    )
        finally:
            self.close()
        return records


def train(spec: TrainSpec) -> Training:
    """The one trainer: Signal's Train and watch, Saliency, Deformable, the lessons, the ``train``,
    ``signal`` and ``gradcam`` commands and the grid search all run a :class:`TrainSpec` here.

    The model is made at once (built, copied or taken, see :data:`ModelSource`); the steps run as the
    records are asked for. A run stops early, after yielding the step, when its loss stops being
    finite, and after the first step whose elapsed time reaches ``spec.seconds``.
    """
    return Training(spec)


def _steps(spec: TrainSpec, built: BuiltModel) -> Generator[StepRecord, None, None]:
    settings, config = spec.settings, spec.config
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
        total = settings.steps
        assert total is not None  # TrainSettings checks it
        scheduler = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda done: 0.5 * (1 + math.cos(math.pi * min(done, total) / total))
        )
    query = format_query(config)
    model.train()
    start = time.perf_counter()
    for step in itertools.count(1) if settings.steps is None else range(1, settings.steps + 1):
        x, labels = next(data)
        y = labels % config.classes
        last = step == settings.steps
        measure = step == 1 or last or (settings.record_every is not None and step % settings.record_every == 0)
        optimizer.zero_grad(set_to_none=True)
        # Entered per step, not around the generator: a suspended run must not hold the switches.
        with _precision(settings.autocast, target):
            logits, loss, result = _step(model, built, layers, x, y, measure, settings, query, side)
        loss_value = float(loss.detach())
        accuracy = float((logits.detach().argmax(1) == y).float().mean())
        if math.isfinite(loss_value):
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
        held_out = None
        if settings.held_out and last and math.isfinite(loss_value):
            held_out = _held_out(built, settings, side)
        elapsed = time.perf_counter() - start
        record = StepRecord(step, settings.steps, loss_value, accuracy, elapsed, result, held_out)
        for callback in spec.callbacks:
            callback(record)
        yield record
        if not math.isfinite(loss_value) or (spec.seconds is not None and elapsed >= spec.seconds):
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
            yield standardise(shapes.images).to(device), shapes.labels.to(device)
        return
    rendered = dataset.batch(range(settings.images))
    images = standardise(rendered.images).to(device)
    labels = rendered.labels.to(device)
    order = torch.Generator().manual_seed(settings.seed)
    per_epoch = settings.images // settings.batch
    while True:
        permutation = torch.randperm(settings.images, generator=order)
        for i in range(per_epoch):
            index = permutation[i * settings.batch : (i + 1) * settings.batch].to(device)
            yield images[index], labels[index]


#: Held-out images scored in one batch at most: the recorded searches (up to 4,096 images) were scored
#: in one, and an image's logits can differ in the last bits between batch sizes on a CPU.
EVAL_CHUNK = 4096


def held_out_accuracy(
    built: BuiltModel, data: ShapesDataset, n: int, autocast: bool = False, chunk: int = EVAL_CHUNK
) -> float:
    """Top-1 accuracy of ``built`` on images ``0..n-1`` of ``data``, in chunks of ``chunk``: the one
    held-out evaluator (a training's last step, :func:`train_on_shapes`, :func:`shapes_scores`)."""
    correct = 0
    for first in range(0, n, chunk):
        correct += _correct(built, data.batch(range(first, min(n, first + chunk))), autocast)
    return correct / n


def _correct(built: BuiltModel, shapes: ShapesBatch, autocast: bool) -> int:
    """How many of ``shapes`` ``built`` labels right (eval mode, no gradients; under bfloat16 autocast
    when ``autocast``, else in full float32)."""
    device = next(built.module.parameters()).device
    with _precision(autocast, device), hooked(built.module, training=False), torch.no_grad():
        logits = built.module(standardise(shapes.images).to(device))
    return int((logits.argmax(1) == (shapes.labels % built.config.classes).to(device)).sum())


def _held_out(built: BuiltModel, settings: TrainSettings, side: int) -> float:
    """:func:`held_out_accuracy` on ``settings.held_out`` images of seed ``settings.seed + 1`` (the
    training's rotation and scale, at its side and precision)."""
    data = settings.dataset(side, built.config.in_channels, seed=settings.seed + 1)
    return held_out_accuracy(built, data, settings.held_out, settings.autocast)


def _precision(autocast: bool, device: torch.device) -> AbstractContextManager[object]:
    if autocast:
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
                grad = cast(Tensor, layers[name].weight).grad
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


def warm_start_for(config: ModelConfig, resolution: int | None = None) -> ShippedModel | None:
    """The shipped model whose architecture is exactly ``config``'s shapes version (same layers and
    tensor shapes), to train from (load it with ``load_shipped``); None when none matches."""
    from explorer.runtime.shipped import same_architecture, shipped_for

    shipped = shipped_for(config)
    if shipped is None or not same_architecture(shapes_config(config, resolution), shipped.config):
        return None
    return shipped


def shapes_source(
    config: ModelConfig, resolution: int | None = None, start: ExplainableModel | None = None
) -> Fresh | Copied:
    """What a shapes training of ``config`` trains (see :func:`shapes_config`): fresh weights, or a
    private copy of ``start`` (a trained model of that architecture, e.g. :func:`warm_start_for`'s)
    at ``resolution`` or else at the start's own side (not capped at the config's: the side is not
    part of the weights, and a model may be refined at a larger picture)."""
    small = shapes_config(config, resolution)
    if start is None:
        return Fresh(small)
    side = max(config.min_resolution, resolution or start.built.config.input_resolution)
    return Copied(start.built, dataclasses.replace(small, resolution=side), origin=start.weights)


def train_on_shapes(spec: TrainSpec) -> ShapesRun:
    """Run ``spec`` to the end of its budget (see :func:`train`) with top-1 accuracy on
    ``settings.held_out`` images of seed ``settings.seed + 1`` (0: not measured), drawn as the
    training images are (rotation, scale): the last step's record has it, or, after a time budget,
    the same evaluator measures it at the end. The model comes back described for the pages; a run
    whose loss stops being finite raises InputError."""
    run = train(spec)
    records = run.finish()
    last = records[-1]
    built, settings = run.model, spec.settings
    built.module.eval()
    accuracy = last.held_out_accuracy
    if accuracy is None and settings.held_out:  # a time budget: no step knew it was the last
        accuracy = _held_out(built, settings, settings.resolution or built.config.input_resolution)
    where = torch.device(spec.device).type if spec.device is not None else "cpu"
    measured = f" ({accuracy:.0%} accuracy on {settings.held_out} held-out images)" if accuracy is not None else ""
    origin = spec.model.origin if isinstance(spec.model, Copied) else None
    side = built.config.input_resolution
    model = ExplainableModel(
        built,
        f"trained here on generated shapes for {last.step} steps at {side} px on {where}"
        f"{f', starting from the {origin}' if origin else ''}"
        f"{', bf16 autocast' if settings.autocast else ''}{measured}",
        CLASSES,
        accuracy=accuracy,
        mean=(INPUT_MEAN,),
        std=(INPUT_STD,),
    )
    return ShapesRun(model, last.step, side, tuple(r.loss for r in records), last.elapsed_s)


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
    data = ShapesDataset(resolution=config.input_resolution, in_channels=config.in_channels, seed=seed)
    correct = hits = 0
    for start in range(0, n, chunk):
        batch = data.batch(range(start, min(n, start + chunk)))
        correct += _correct(built, batch, autocast=False)
        hits += int(
            pointing_hits(built, standardise(batch.images), batch.labels, batch.boxes, layer=layer, chunk=chunk).sum()
        )
    return ShapesScores(seed=seed, n=n, accuracy=correct / n, pointing=hits / n)
