"""What a training-memory count is, as plain data (computed by :mod:`explorer.measure.memory`).

Apart from the computation so that a stored count can be read without importing torch.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class LayerMemory:
    name: str
    type: str
    stage: str
    saved_bytes: int
    #: Distinct storages first saved by this module.
    tensors: int


@dataclass(frozen=True)
class TrainingMemory:
    query: str
    #: The batch counted: the one asked for, or 2 where batch 1 cannot train (``note`` says so).
    batch: int
    saved_bytes: int
    layers: tuple[LayerMemory, ...] = field(repr=False)
    #: Why the count is at another batch than the one asked for ("" when it is not).
    note: str = ""

    @property
    def bytes_per_sample(self) -> float:
        return self.saved_bytes / self.batch

    def grouped(self, key: str = "stage") -> list[dict[str, Any]]:
        totals: dict[str, int] = defaultdict(int)
        for row in self.layers:
            totals[getattr(row, key)] += row.saved_bytes
        return [{key: name, "saved_bytes": value} for name, value in totals.items()]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainingMemory:
        return cls(**{**data, "layers": tuple(LayerMemory(**row) for row in data["layers"])})
