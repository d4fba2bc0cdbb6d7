"""Timing helpers the benches share: the median of a few runs after one warm-up, and two functions
timed in turn, round after round, so the machine's drift between them cancels in their ratio."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

REPEATS = 5


def median_time(function: Callable[[], object], repeats: int = REPEATS) -> float:
    """Median wall seconds of ``repeats`` calls of ``function`` after one untimed call."""
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def paired(
    baseline: Callable[[], object], measured: Callable[[], object], repeats: int = REPEATS
) -> tuple[float, float, float]:
    """(baseline s, measured s, median of the per-round ratios measured / baseline), each run once
    untimed first, then the two in turn for ``repeats`` rounds."""
    baseline()
    measured()
    rounds = []
    for _ in range(repeats):
        start = time.perf_counter()
        baseline()
        middle = time.perf_counter()
        measured()
        rounds.append((middle - start, time.perf_counter() - middle))
    first, second = (statistics.median(r[i] for r in rounds) for i in (0, 1))
    return first, second, statistics.median(b / a for a, b in rounds)
