"""The block composer's editor as data: one row per block of a ``family=blocks`` config (its text,
channels in and out, map sides), and the edits a user makes (add, remove, move, rewrite), each giving
a new validated config or a ConfigError that names the block and what does not fit."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from explorer.errors import InputError
from explorer.families.blocks import BlocksConfig
from explorer.knobs import ConfigError

__all__ = ["EXAMPLES", "BlockRow", "block_rows", "moved", "with_blocks"]

#: A block of each kind to start from (the editor's "add" menu), in the language of blocks.
EXAMPLES: dict[str, str] = {
    "conv": "conv64",
    "res": "res64",
    "bottle": "bottle64",
    "dense": "dense.k32.l6",
    "trans": "trans",
    "dw": "dw64",
    "mb": "mb24.e6.s2",
    "deform": "deform64",
    "incep": "incep64-96-128-16-32-32",
    "max": "max",
    "avg": "avg",
}


@dataclass(frozen=True)
class BlockRow:
    """One written block (its repeats together): position (1-based), text, what goes in and out."""

    index: int
    text: str
    in_channels: int
    out_channels: int
    in_side: int
    out_side: int
    repeats: int


def block_rows(config: BlocksConfig) -> list[BlockRow]:
    """The body's blocks as rows (the stem is a knob of its own), from the traced structure."""
    rows: dict[int, BlockRow] = {}
    for trace in config.layers:
        if trace.key != "blocks":
            continue
        first = rows.get(trace.index)
        rows[trace.index] = BlockRow(
            trace.index,
            trace.block.text,
            first.in_channels if first else trace.in_channels,
            trace.out_channels,
            first.in_side if first else trace.in_side,
            trace.out_side,
            trace.block.repeats,
        )
    return [rows[i] for i in sorted(rows)]


def with_blocks(config: BlocksConfig, texts: Sequence[str]) -> BlocksConfig:
    """``config`` with the body ``texts`` (blank rows dropped); ConfigError names the bad block."""
    kept = [t.strip() for t in texts if t and t.strip()]
    if not kept:
        raise ConfigError("blocks: the network needs at least one block")
    if any("," in t for t in kept):
        raise ConfigError("blocks: one block per row (no ',' inside a row)")
    return dataclasses.replace(config, blocks=",".join(kept))


def moved(texts: Sequence[str], index: int, offset: int) -> list[str]:
    """``texts`` with the block at ``index`` (0-based) moved by ``offset`` places (clamped)."""
    items = list(texts)
    if not 0 <= index < len(items):
        raise InputError(f"block {index + 1} does not exist; the list has {len(items)}")
    target = max(0, min(len(items) - 1, index + offset))
    items.insert(target, items.pop(index))
    return items
