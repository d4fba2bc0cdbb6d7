"""Settling: training the networks a search's conclusions rest on with more seeds.

Two networks are told apart when their mean accuracies differ by more than the
:func:`~explorer.analysis.search.verdict.margin`; a few seeds rarely give one narrow enough, so
:func:`settle` trains the winner, the runner-up, the best compound point and its baselines with
more seeds. :class:`BackgroundSearch` runs a search (and its settling) on a thread, for a page.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from explorer.analysis.search.executors import Executor
from explorer.analysis.search.grid import MAX_SEEDS, GridPoint, SearchSpec
from explorer.analysis.search.results import PointResult, combine
from explorer.analysis.search.runner import by_network, in_plan_order, run_search
from explorer.analysis.search.store import SearchRun, append, load_results, prepare
from explorer.analysis.search.task import TaskResult
from explorer.analysis.search.verdict import ranking, verdict
from explorer.errors import InputError

__all__ = ["BackgroundSearch", "settle", "settle_targets", "settled_networks", "settled_seeds", "unsettled"]


def _settled(old: PointResult, new: Sequence[TaskResult]) -> PointResult:
    """``old``'s seeds followed by ``new`` (the next seeds, in order) as one point's result."""
    more = combine(old.point, new)
    return PointResult(
        old.point,
        old.accuracies + more.accuracies,
        old.seconds + more.seconds,
        old.final_losses + more.final_losses,
        old.device or more.device,
        old.errors + more.errors,
        old.first_losses + more.first_losses,
    )


def settled_networks(results: Iterable[PointResult], seeds: int) -> dict[str, PointResult]:
    """The networks (by query) trained with more seeds than the search's ``seeds``: the ones settled."""
    return {r.point.query: r for r in results if r.ok and len(r.accuracies) > seeds}


def settled_seeds(card: dict[str, Any]) -> int | None:
    """The seeds a recorded search's networks were settled with (its card's ``settled``; None: not
    settled), so that re-running it live settles them the same way."""
    return max(card.get("settled", {}).values(), default=None)


def settle_targets(results: Iterable[PointResult]) -> list[PointResult]:
    """One result per network that a search's conclusions rest on: the ranking's winner and
    runner-up, the verdict's best compound point and its single-dimension baselines."""
    ranked, judged = ranking(results := list(results)), verdict(results)
    chosen = [ranked.winner, ranked.runner_up] if ranked is not None else []
    chosen += [judged.best, *(c.baseline for c in judged.comparisons)]
    return list({r.point.query: r for r in chosen if r is not None}.values())


def unsettled(results: Iterable[PointResult], seeds: int) -> list[PointResult]:
    """The networks :func:`settle` would still train to ``seeds`` seeds (empty once it has finished):
    what is left of a settling that was cancelled."""
    return [r for r in settle_targets(results) if len(r.accuracies) < seeds]


def settle(
    spec: SearchSpec,
    directory: str | os.PathLike[str],
    executor: Executor,
    seeds: int,
    *,
    points: Sequence[GridPoint] | None = None,
    stop: threading.Event | None = None,
    progress: Callable[[PointResult, int, int], None] | None = None,
) -> SearchRun:
    """Train the networks the search's conclusions rest on with more seeds, up to ``seeds`` each:
    the ranking's winner and runner-up, and the verdict's best compound point with the single-
    dimension baselines it is judged against (:func:`settle_targets`). The :func:`margin` between
    two of them shrinks about as 1/sqrt(seeds), so a small gap can be told apart (or shown to be a
    tie), and the spreads come from more than a few lucky or unlucky seeds.

    A network with K seeds gets seeds K..seeds-1 (new draws of data and initial weights, trained
    exactly as the first ones); every point of that network (twins included) gets a new line in
    ``results.jsonl`` with all its seeds, which :func:`load_results` takes over the old one. When
    the extra seeds change the targets (another network moves up), the new ones are settled too.
    Stops like :func:`run_search`; ``results`` come in the order of ``points`` where given (the
    plan), else in the order of ``results.jsonl``."""
    if not spec.seeds <= seeds <= MAX_SEEDS:
        raise InputError(f"{seeds}; allowed: {spec.seeds} (the search's seeds) to {MAX_SEEDS}", field="settle")
    directory = Path(directory)
    prepare(spec, directory)
    _, earlier = load_results(directory)
    results = {r.point.key: r for r in earlier}
    run = SearchRun(spec, [r.point for r in earlier])
    run.executor = executor.description
    total = 0

    def settled(out: Any, query: str, new: list[TaskResult]) -> None:
        for key, old in list(results.items()):
            if old.point.query == query:
                results[key] = _settled(old, new)
                append(out, results[key])
        run.trained += 1
        if progress:
            progress(next(r for r in results.values() if r.point.query == query), run.trained, total)

    while not run.cancelled and (short := unsettled(results.values(), seeds)):
        total = run.trained + len(short)
        tasks = [spec.task(r.point.query, seed) for r in short for seed in range(len(r.accuracies), seeds)]
        run.cancelled, wall = by_network(directory, tasks, executor, stop, settled)
        run.wall_seconds += wall
    run.results = in_plan_order(results.values(), points) if points is not None else list(results.values())
    return run


class BackgroundSearch:
    """A search running on a thread of this process (the Scaling lab's Search tab): the page polls
    ``results.jsonl`` and may :meth:`cancel`. The executor is made on the thread and closed there.
    With ``settle``, the networks the verdict rests on are then trained with that many seeds
    (:func:`settle`), as a recorded search that was settled is re-run."""

    def __init__(
        self,
        spec: SearchSpec,
        directory: str | os.PathLike[str],
        make: Callable[[], Executor],
        settle: int | None = None,
    ) -> None:
        self.spec, self.directory, self._make, self.settle = spec, Path(directory), make, settle
        self.stop = threading.Event()
        self.error: str | None = None
        self.run: SearchRun | None = None
        self._thread = threading.Thread(target=self._main, name=f"search-{spec.key}", daemon=True)

    def start(self) -> BackgroundSearch:
        self._thread.start()
        return self

    def _main(self) -> None:
        executor = None
        try:
            executor = self._make()
            self.run = run_search(self.spec, self.directory, executor, stop=self.stop)
            if self.settle is not None and not self.run.cancelled:
                settle(self.spec, self.directory, executor, self.settle, stop=self.stop)
        except Exception as exc:  # shown on the page; the thread must not die silently
            self.error = f"{type(exc).__name__}: {' '.join(str(exc).split())}"
        finally:
            if executor is not None:
                executor.close()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def cancel(self) -> None:
        self.stop.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the thread; True when it has ended."""
        self._thread.join(timeout)
        return not self._thread.is_alive()
