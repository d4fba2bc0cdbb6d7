"""The training recipe: one frozen :class:`TrainSettings` for every training, and the named recipes.

Torch-free, so the pages, the search's plan and the lessons hold a recipe without loading PyTorch;
:mod:`explorer.analysis.training` runs one. Every place that trains says what it changes from a named
recipe with :func:`dataclasses.replace` (the search, a lesson, the ``train`` command, Train and watch),
so adding a field to the recipe is one edit here plus its default.

Recipes: :data:`TEACHING` (Train and watch, measured for a class on a CPU), :data:`SHAPES` (the shapes
trainer behind Saliency, Deformable, the ``train``, ``gradcam`` and ``deform`` commands and the grid
search) and :data:`LESSON` (a lesson's training comparison).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from explorer.errors import InputError
from explorer.knobs import ModelConfig

if TYPE_CHECKING:
    from explorer.data.shapes import ShapesDataset

__all__ = [
    "HELD_OUT",
    "LESSON",
    "OPTIMIZERS",
    "SCHEDULES",
    "SHAPES",
    "SHAPE_CLASSES",
    "TEACHING",
    "TEACHING_MACS",
    "TEACHING_NETS",
    "WARM_START_LR",
    "TeachingChoice",
    "TrainSettings",
    "recipe_changes",
    "recipe_params",
    "shapes_settings",
    "teaching_model",
]

#: The shape classes every recipe trains (the default shapes version's 8: ``len(data.shapes.CLASSES)``,
#: written here so that the recipe needs no torch; a test checks they agree).
SHAPE_CLASSES = 8


OPTIMIZERS = ("sgd", "adam")


#: Learning-rate schedules: constant, or cosine decay to zero over ``steps`` (short runs converge
#: further with the decay: the last steps average out the noise of a large constant step).
SCHEDULES = ("constant", "cosine")


#: Held-out images for the accuracy of a shapes training.
HELD_OUT = 128


@dataclass(frozen=True, kw_only=True)
class TrainSettings:
    """A training recipe, the part of a :class:`TrainSpec` that is not the model, the time budget, the
    device or the callbacks: the optimiser and its schedule, the data, the seed (weights of a
    :class:`Fresh` model, data order), the precision, what is recorded and the step budget."""

    optimizer: str = "sgd"
    lr: float = 0.01
    #: The step budget (None: no step limit; a :class:`TrainSpec` then needs a time budget).
    steps: int | None = 50
    batch: int = 16
    seed: int = 0
    #: Measure the signal flow every this many steps, and at the first and the last step (None: at
    #: those two only).
    record_every: int | None = 5
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
            raise InputError(f"'{self.optimizer}'; allowed: {', '.join(OPTIMIZERS)}", field="optimizer")
        if self.schedule not in SCHEDULES:
            raise InputError(f"'{self.schedule}'; allowed: {', '.join(SCHEDULES)}", field="schedule")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise InputError(f"{self.lr}; allowed: a positive number", field="lr")
        if self.steps is not None and self.steps < 1:
            raise InputError(f"{self.steps}; allowed: 1 or more, or None (no step limit)", field="steps")
        if self.schedule != "constant" and self.steps is None:
            raise InputError(f"'{self.schedule}' needs a number of steps", field="schedule")
        if self.batch < 2:
            raise InputError(f"{self.batch}; allowed: 2 or more (batch norm needs batch statistics)", field="batch")
        if self.record_every is not None and self.record_every < 1:
            raise InputError(f"{self.record_every}; allowed: 1 or more, or None", field="record_every")
        if self.images < 0 or self.held_out < 0:
            raise InputError(f"images={self.images}, held_out={self.held_out}; allowed: 0 or more")
        if self.images and self.images < self.batch:
            raise InputError(f"{self.images}; allowed: 0, or at least the batch ({self.batch})", field="images")
        if self.scale is not None:
            object.__setattr__(self, "scale", (float(self.scale[0]), float(self.scale[1])))

    def dataset(self, side: int, in_channels: int, seed: int | None = None) -> ShapesDataset:
        """The shapes these settings train on (``seed``: another seed's images, e.g. held out)."""
        from explorer.data.shapes import ShapesDataset  # torch: only when images are wanted

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
    """What "Train and watch" trains from fresh weights for a config (see :func:`teaching_model`)."""

    #: The config asked for, the recipe's side for it and its MACs there (batch 1).
    asked: ModelConfig
    side: int
    macs: int
    #: What is trained: the asked config (8 outputs) or a small net, at the side it trains at.
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


def teaching_model(config: ModelConfig, macs_of: Callable[[ModelConfig], int]) -> TeachingChoice:
    """What "Train and watch" trains for ``config`` from fresh weights, at the teaching recipe's side
    (at least the family's smallest): the config itself (8 outputs) when it is small enough there, else
    its family's small net (:data:`TEACHING_NETS`). ``macs_of(config)`` counts MACs at batch 1 (a page
    passes its cached profile)."""
    from explorer.config import parse_query

    recipe_side = TEACHING.resolution or 16
    side = max(recipe_side, config.min_resolution)
    own = dataclasses.replace(config, classes=SHAPE_CLASSES)
    macs = macs_of(dataclasses.replace(own, resolution=side))
    chosen, trained_side = own, side
    if macs > TEACHING_MACS:  # the small net trains at the recipe's side, not at the big model's smallest
        chosen = parse_query(TEACHING_NETS.get(config.family, TEACHING_NETS["resnet"]))
        trained_side = max(recipe_side, chosen.min_resolution)
    trained = dataclasses.replace(chosen, resolution=max(trained_side, chosen.min_resolution))
    return TeachingChoice(config, side, macs, trained)


#: Adam's learning rate when training starts from a shipped model (a fifth of a fresh run's 1e-3):
#: a short run then refines what the model learned instead of shaking it loose.
WARM_START_LR = 2e-4


#: The shapes trainer's recipe (Saliency, the ``gradcam`` and ``train`` commands, the grid search):
#: Adam 1e-3, batch 32, fresh images every step, the signal flow measured at the first and last step
#: only. Set ``steps`` (or give the spec ``seconds``) and the seed; ``warm=True`` in
#: :func:`shapes_settings` refines a trained model at :data:`WARM_START_LR` instead.
SHAPES = TrainSettings(optimizer="adam", lr=1e-3, steps=None, batch=32, record_every=None, held_out=HELD_OUT)


def shapes_settings(warm: bool = False, **changes: Any) -> TrainSettings:
    """:data:`SHAPES` with ``changes``; ``warm``: from a trained model, at :data:`WARM_START_LR`."""
    base = dataclasses.replace(SHAPES, lr=WARM_START_LR) if warm else SHAPES
    return dataclasses.replace(base, **changes)


#: A lesson's training comparison (``training_comparison`` in ``assets/lessons``): SGD 0.05 with
#: momentum, batch 16, 40 steps, fresh images every step, losses only (no signal flow between). A
#: lesson file sets any field of :class:`TrainSettings` but ``seed`` under its own name (see
#: :func:`recipe_changes`); the seeds are the lesson's ``seeds``.
LESSON = TrainSettings(optimizer="sgd", lr=0.05, steps=40, batch=16, record_every=None)


#: The recipe's fields a lesson does not set: the seed comes from its ``seeds``, and a lesson plots
#: losses only.
NOT_A_LESSONS = frozenset({"seed", "record_every"})


def recipe_params(settings: TrainSettings) -> dict[str, Any]:
    """The fields of ``settings`` a lesson file may set, as TOML writes them (None as 0 or [], a pair
    as a list): a lesson experiment's defaults, read back by :func:`recipe_changes`."""
    params: dict[str, Any] = {}
    for f in dataclasses.fields(settings):
        if f.name in NOT_A_LESSONS:
            continue
        value = getattr(settings, f.name)
        if f.name == "resolution":
            value = value or 0
        elif f.name == "scale":
            value = list(value) if value else []
        params[f.name] = value
    return params


def recipe_changes(params: dict[str, Any]) -> dict[str, Any]:
    """The :class:`TrainSettings` fields among ``params`` (a lesson file's, read from TOML), as the
    recipe holds them: ``resolution`` 0 is None (the config's own), ``scale`` [] is None and a list
    a pair; other keys are left out. ``seed`` and ``record_every`` are not a lesson's to set."""
    names = {f.name for f in dataclasses.fields(TrainSettings)} - NOT_A_LESSONS
    changes = {k: v for k, v in params.items() if k in names}
    if "resolution" in changes:
        changes["resolution"] = changes["resolution"] or None
    if "scale" in changes:
        scale = changes["scale"]
        changes["scale"] = (float(scale[0]), float(scale[1])) if scale else None
    return changes
