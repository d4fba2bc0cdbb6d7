"""Pinned configs of the Scaling lab (part of its URL) and their per-stage comparison."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from explorer.analysis.scaling.rule import Profiler, stage_shapes
from explorer.config import parse_query
from explorer.knobs import ConfigError, ModelConfig
from explorer.measure.profile import profile

MAX_PINS = 4
PIN_SEPARATOR = "|"


def format_pins(configs: Sequence[ModelConfig]) -> str:
    """Canonical queries joined by '|', with '&' written ';' (which the config language also reads)."""
    return PIN_SEPARATOR.join(c.query.replace("&", ";") for c in configs)


def parse_pins(text: str | None) -> list[ModelConfig]:
    """The configs of a ``pins`` value; ConfigError names the bad pin. Duplicates are dropped."""
    if not text:
        return []
    configs: list[ModelConfig] = []
    for index, part in enumerate(p for p in text.split(PIN_SEPARATOR) if p.strip()):
        try:
            config = parse_query(part)
        except ConfigError as error:
            raise ConfigError(f"pin {index + 1} ('{part}'): {error}") from None
        if config not in configs:
            configs.append(config)
    if len(configs) > MAX_PINS:
        raise ConfigError(f"at most {MAX_PINS} pinned configs; the link has {len(configs)}")
    return configs


@dataclass(frozen=True)
class StageComparison:
    """One stage across pinned configs: values per config and the difference to the first."""

    stage: str
    queries: tuple[str, ...]
    blocks: tuple[int | None, ...]
    channels: tuple[int | None, ...]
    params: tuple[int | None, ...]
    macs: tuple[int | None, ...]


def compare(configs: Sequence[ModelConfig], profiler: Profiler = profile) -> list[StageComparison]:
    """Per-stage blocks, channels, params and MACs of each config, stages in order of first
    appearance, and a final ``total`` row (None where a config has no such stage)."""
    results = [profiler(c) for c in configs]
    shapes = [{s.name: s for s in stage_shapes(r)} for r in results]
    names: list[str] = []
    for per in shapes:
        names.extend(n for n in per if n not in names)
    queries = tuple(r.query for r in results)
    rows = []
    for name in names:
        got = [per.get(name) for per in shapes]
        rows.append(
            StageComparison(
                name,
                queries,
                tuple(s.blocks if s else None for s in got),
                tuple(s.channels if s else None for s in got),
                tuple(s.params if s else None for s in got),
                tuple(s.macs if s else None for s in got),
            )
        )
    rows.append(
        StageComparison(
            "total",
            queries,
            tuple(sum(s.blocks for s in per.values()) for per in shapes),
            tuple(None for _ in shapes),
            tuple(r.params for r in results),
            tuple(r.macs for r in results),
        )
    )
    return rows
