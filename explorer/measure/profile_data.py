"""What a profile is, as plain data: :class:`Profile` and its :class:`LayerRow` rows.

Apart from :mod:`explorer.measure.profile` (which computes them with torch) so that a stored
profile (:mod:`explorer.analysis.stored`) can be read and drawn without importing torch.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

BYTES_PER_VALUE = 4  # float32


@dataclass(frozen=True)
class LayerRow:
    name: str
    type: str
    stage: str
    block: str | None
    #: 1-based position among conv/linear layers in execution order; None for other layers.
    depth: int | None
    params: int
    macs: int
    output_shape: tuple[int, ...]
    activation_bytes: int
    #: Input pixels per output pixel along one side (input resolution / output height).
    stride: int | None


@dataclass(frozen=True)
class Profile:
    query: str
    family: str
    resolution: int
    in_channels: int
    params: int
    macs: int
    activation_bytes: int
    layers: tuple[LayerRow, ...] = field(repr=False)

    @property
    def flops(self) -> int:
        return 2 * self.macs

    @property
    def weight_bytes(self) -> int:
        return self.params * BYTES_PER_VALUE

    def grouped(self, key: str) -> list[dict[str, Any]]:
        """Rows summed by ``stage``, ``type`` or ``block``, in order of first appearance."""
        totals: dict[Any, dict[str, int]] = defaultdict(
            lambda: {"params": 0, "macs": 0, "activation_bytes": 0, "layers": 0}
        )
        for row in self.layers:
            group = totals[getattr(row, key)]
            group["params"] += row.params
            group["macs"] += row.macs
            group["activation_bytes"] += row.activation_bytes
            group["layers"] += 1
        return [{key: name, **values} for name, values in totals.items()]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["flops"] = self.flops
        data["weight_bytes"] = self.weight_bytes
        for row in data["layers"]:
            row["output_shape"] = list(row["output_shape"])
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Profile:
        """The inverse of :meth:`to_dict`."""
        fields = {k: v for k, v in data.items() if k not in ("flops", "weight_bytes", "layers")}
        rows = tuple(LayerRow(**{**row, "output_shape": tuple(row["output_shape"])}) for row in data["layers"])
        return cls(**fields, layers=rows)
