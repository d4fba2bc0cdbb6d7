"""Running a search: every planned point not already in its directory, each network trained once.

:func:`run_search` trains the plan's networks (two rules that round to one config are one network)
through an executor and appends each point as soon as all its seeds are in; a rerun with the same
arguments skips the points already there.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from explorer.analysis.search.executors import Cancelled, Executor
from explorer.analysis.search.grid import GridPoint, SearchSpec, plan
from explorer.analysis.search.results import PointResult, combine
from explorer.analysis.search.store import RESULTS_FILE, SearchRun, append, load_results, prepare
from explorer.analysis.search.task import TaskResult, TaskSpec

__all__ = ["by_network", "in_plan_order", "run_search"]


def by_network(
    directory: Path,
    tasks: Sequence[TaskSpec],
    executor: Executor,
    stop: threading.Event | None,
    finished: Callable[[Any, str, list[TaskResult]], None],
) -> tuple[bool, float]:
    """Run ``tasks`` and call ``finished(results file, query, results)`` as soon as every seed of a
    network is in (its results in seed order), with ``results.jsonl`` open for appending.

    Returns (cancelled, wall seconds): a set ``stop`` ends it with what finished kept; a
    KeyboardInterrupt is let through after the executor is closed."""
    slots: dict[str, dict[int, TaskResult | None]] = {}
    for task in tasks:
        slots.setdefault(task.query, {})[task.seed] = None
    start = time.perf_counter()
    try:
        with (directory / RESULTS_FILE).open("a") as out:
            for index, result in executor.run(tasks, stop):
                task = tasks[index]
                mine = slots[task.query]
                mine[task.seed] = result
                if all(r is not None for r in mine.values()):
                    finished(out, task.query, [r for _, r in sorted(mine.items()) if r is not None])
    except Cancelled:
        return True, time.perf_counter() - start
    except KeyboardInterrupt:
        executor.close()
        raise
    return False, time.perf_counter() - start


def run_search(
    spec: SearchSpec,
    directory: str | os.PathLike[str],
    executor: Executor,
    *,
    points: list[GridPoint] | None = None,
    stop: threading.Event | None = None,
    progress: Callable[[PointResult, int, int], None] | None = None,
) -> SearchRun:
    """Train every planned point of ``spec`` not already in ``directory``, appending one line to
    ``results.jsonl`` per finished point (all its seeds), as it finishes.

    Points of the same network (rounding can map two rules to one config) are trained once. Stops
    with ``cancelled=True`` when ``stop`` is set; a KeyboardInterrupt is let through after the
    executor is closed. The executor is not closed otherwise (the caller owns it)."""
    directory = Path(directory)
    points = points if points is not None else plan(spec)
    prepare(spec, directory)
    _, earlier = load_results(directory)
    done = {r.point.key: r for r in earlier if r.ok}
    todo = [p for p in points if p.key not in done]
    run = SearchRun(spec, points, [done[p.key] for p in points if p.key in done], skipped=len(points) - len(todo))
    run.executor = executor.description
    queries = list(dict.fromkeys(p.query for p in todo))
    tasks = [spec.task(q, seed) for q in queries for seed in range(spec.seeds)]
    waiting = {q: [p for p in todo if p.query == q] for q in queries}

    def finished(out: Any, query: str, results: list[TaskResult]) -> None:
        for point in waiting.pop(query):
            result = combine(point, results)
            append(out, result)
            run.results.append(result)
            run.trained += 1
            if progress:
                progress(result, len(run.results), len(points))

    run.cancelled, run.wall_seconds = by_network(directory, tasks, executor, stop, finished)
    run.results = in_plan_order(run.results, points)
    return run


def in_plan_order(results: Iterable[PointResult], points: Sequence[GridPoint]) -> list[PointResult]:
    """``results`` in the order of ``points`` (results of points not in it last)."""
    order = {p.key: i for i, p in enumerate(points)}
    return sorted(results, key=lambda r: order.get(r.point.key, len(order)))
