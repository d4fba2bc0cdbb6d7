"""Numbers for people: 25,557,032 -> "25.56 M", bytes -> "102.2 MB" (decimal units)."""

from __future__ import annotations


def human_count(value: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:.2f} {unit}"
    return f"{value:.0f}"


def human_bytes(value: float) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:.1f} {unit}"
    return f"{value:.0f} B"


def human_duration(seconds: float) -> str:
    """A duration as people say it: "40 s", "12 min"."""
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def shape_text(shape: tuple[int, ...] | list[int]) -> str:
    return "x".join(str(s) for s in shape) if shape else "-"
