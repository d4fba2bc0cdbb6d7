"""One training of a search: a network, a seed, the search's recipe; plain values, so it pickles.

:func:`run_task` is the one task function behind every executor: the one shapes trainer
(:func:`explorer.analysis.training.train_on_shapes`) for the recipe's steps at the network's own input
side, held-out top-1 accuracy on another seed's images. A task sets torch's CPU threads to
``threads`` for its duration (1 under the pool and Ray: one task per core, and a reduction order that
does not depend on the executor), so the same seeds give identical numbers under every executor.
Each result keeps its first training losses, so a recorded search is re-checked by re-running a few
steps (:func:`first_losses`) instead of the whole search.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from explorer.analysis.recipe import TrainSettings

__all__ = ["FIRST_STEPS", "TaskResult", "TaskSpec", "first_losses", "run_task"]


@dataclass(frozen=True)
class TaskSpec:
    """One training: a network, its recipe (with the seed) and where it runs; plain values only, so it
    pickles for a process pool and for Ray."""

    query: str
    settings: TrainSettings
    device: str = "cpu"
    #: torch CPU threads during the task (0: leave as they are).
    threads: int = 1

    @property
    def seed(self) -> int:
        return self.settings.seed


#: Training losses kept from the start of every run: a recorded search is re-checked by re-running
#: them (see :func:`first_losses`).
FIRST_STEPS = 3


@dataclass(frozen=True)
class TaskResult:
    accuracy: float | None
    seconds: float
    final_loss: float | None
    steps: int
    device: str
    error: str | None = None
    #: The losses of the first :data:`FIRST_STEPS` steps.
    first_losses: tuple[float, ...] = ()


def _train(task: TaskSpec, progress: Callable[[Any], None] | None = None) -> Any:
    """``task``'s training (a :class:`explorer.analysis.training.ShapesRun`), on torch's current threads;
    ``progress`` is called with every step's record."""
    from explorer.analysis.training import TrainSpec, shapes_source, train_on_shapes
    from explorer.config import parse_query

    config = parse_query(task.query)
    spec = TrainSpec(
        model=shapes_source(config, config.input_resolution),
        settings=task.settings,
        device=task.device,
        callbacks=(progress,) if progress is not None else (),
    )
    return train_on_shapes(spec)


@contextlib.contextmanager
def _threads(count: int) -> Iterator[None]:
    import torch

    previous = torch.get_num_threads()
    if count:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        if count:
            torch.set_num_threads(previous)


def run_task(task: TaskSpec) -> TaskResult:
    """Train ``task.query`` on shapes with ``task.seed`` and measure held-out accuracy.

    The one task function of every executor. Errors (a diverged run, a network too large for the
    device) come back as ``TaskResult.error`` rather than as exceptions, so one bad point does not end
    the search."""
    with _threads(task.threads):
        try:
            run = _train(task)
        except (ValueError, RuntimeError) as exc:
            return TaskResult(None, 0.0, None, 0, task.device, f"{type(exc).__name__}: {' '.join(str(exc).split())}")
    return TaskResult(
        run.model.accuracy, run.seconds, run.losses[-1], run.steps, task.device, first_losses=run.losses[:FIRST_STEPS]
    )


class _Enough(Exception):
    pass


def first_losses(task: TaskSpec, steps: int = FIRST_STEPS) -> list[float]:
    """The training losses of ``task``'s first ``steps`` steps, exactly as the whole task takes them
    (same schedule over ``task.steps``, same data, same initial weights), without running the rest:
    what a recorded search is re-checked by."""
    losses: list[float] = []

    def progress(record: Any) -> None:
        losses.append(record.loss)
        if len(losses) >= steps:
            raise _Enough

    with _threads(task.threads), contextlib.suppress(_Enough):
        _train(task, progress)
    return losses
