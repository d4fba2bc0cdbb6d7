"""A trained point: every seed's accuracy, time and first losses, as one line of ``results.jsonl``.

Torch-free (the views read it): mean accuracy, spread over seeds and the standard error of the mean.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from explorer.analysis.search.grid import GridPoint
from explorer.analysis.search.task import TaskResult

__all__ = ["PointResult", "combine"]


@dataclass(frozen=True)
class PointResult:
    """A trained point: per-seed accuracy and training time, as one line of ``results.jsonl``."""

    point: GridPoint
    accuracies: tuple[float, ...]
    seconds: tuple[float, ...]
    final_losses: tuple[float, ...]
    device: str
    errors: tuple[str, ...] = ()
    #: Per seed, the losses of the first :data:`FIRST_STEPS` steps (empty in results from before).
    first_losses: tuple[tuple[float, ...], ...] = ()

    @property
    def ok(self) -> bool:
        return not self.errors and bool(self.accuracies)

    @property
    def accuracy(self) -> float:
        return statistics.fmean(self.accuracies) if self.accuracies else math.nan

    @property
    def spread(self) -> float:
        """Sample standard deviation over seeds (0 with one seed): how far one more training may land."""
        return statistics.stdev(self.accuracies) if len(self.accuracies) > 1 else 0.0

    @property
    def standard_error(self) -> float:
        """How uncertain the *mean* over the seeds is: the spread / sqrt(seeds); more seeds shrink it."""
        return self.spread / math.sqrt(len(self.accuracies)) if self.accuracies else math.nan

    @property
    def train_seconds(self) -> float:
        return statistics.fmean(self.seconds) if self.seconds else math.nan

    def to_json(self) -> dict[str, Any]:
        point = dataclasses.asdict(self.point)
        return {
            "key": self.point.key,
            **point,
            "ratio": round(self.point.ratio, 6),
            "accuracy": self.accuracy if self.ok else None,
            "spread": self.spread if self.ok else None,
            "accuracies": list(self.accuracies),
            "train_seconds": list(self.seconds),
            "final_losses": list(self.final_losses),
            "device": self.device,
            "errors": list(self.errors),
            "first_losses": [list(losses) for losses in self.first_losses],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PointResult:
        names = {f.name for f in dataclasses.fields(GridPoint)}
        fields = {k: v for k, v in data.items() if k in names}
        fields["achieved"] = tuple(fields["achieved"])
        fields["notes"] = tuple(fields.get("notes", ()))
        return cls(
            GridPoint(**fields),
            tuple(data["accuracies"]),
            tuple(data["train_seconds"]),
            tuple(data["final_losses"]),
            data["device"],
            tuple(data.get("errors", ())),
            tuple(tuple(losses) for losses in data.get("first_losses", ())),
        )


def combine(point: GridPoint, results: Sequence[TaskResult]) -> PointResult:
    errors = tuple(r.error for r in results if r.error)
    good = [r for r in results if r.error is None and r.accuracy is not None]
    return PointResult(
        point,
        tuple(r.accuracy for r in good if r.accuracy is not None),
        tuple(round(r.seconds, 4) for r in good),
        tuple(r.final_loss for r in good if r.final_loss is not None),
        results[0].device if results else "",
        errors,
        tuple(r.first_losses for r in good),
    )
