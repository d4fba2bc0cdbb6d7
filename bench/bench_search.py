"""The grid search's executors: 1 worker against all workers (speed-up), and the local pool against
Ray on this machine (what Ray adds per task).

    python bench/bench_search.py [--steps N] [--seeds K] [--workers W] [--no-ray] [--result]

A fixed small grid (base ``family=plain&depth=4&width=8&resolution=32``, alpha 1.2, beta 1.1, gamma
1.15 and 1.2, plus the base and the three single-dimension baselines: 6 networks x K seeds) runs
through :func:`explorer.analysis.search.run_search` three times, each into a fresh directory: a pool
of 1 worker, a pool of W (default: one per core) and a local Ray instance with W CPUs. Each executor
is started and warmed up first (one short task per worker: the imports and the first-call costs of
torch), and that start-up is printed apart; then the searches run round-robin over the executors
``--repeats`` times (so a change in the machine's load hits all alike), and the timed figure is the
median of each executor's search wall times. Ray's
overhead per task = (Ray wall - pool wall) / tasks, at the same W. The three runs must give the same
accuracies (checked, printed).

``--result`` instead runs the default search of the Search tab (19 networks, 60 steps, the seeds
given) on a pool of W and prints the table and the verdict: the measured answer to "does the best
compound point beat the single-dimension baselines at equal MACs?".

``--recorded NAME`` trains nothing: it prints the figures of the recorded search
``assets/runs/NAME`` (every point's seeds, mean ± spread, the span across the grid against the
largest spread, winner against runner-up, the verdict on the claim) as ``bench/README.md`` quotes
them. How the recipe of the shipped record was chosen: ``bench/bench_search_noise.py``.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from explorer.analysis.search import (
    SEARCH,
    Executor,
    PoolExecutor,
    RayExecutor,
    SearchSpec,
    TaskSpec,
    plan,
    run_search,
    verdict,
)
from explorer.views.search_text import verdict_sentence

BASE = "family=plain&depth=4&width=8&resolution=32"


def warm(executor: Executor, workers: int) -> float:
    start = time.perf_counter()
    tasks = [TaskSpec(BASE, dataclasses.replace(SEARCH, steps=1, batch=4, seed=seed)) for seed in range(workers)]
    for _ in executor.run(tasks):
        pass
    return time.perf_counter() - start


def search_once(executor: Executor, spec: SearchSpec, points) -> tuple[float, list]:
    with tempfile.TemporaryDirectory() as out:
        run = run_search(spec, out, executor, points=points)
    return run.wall_seconds, [r.accuracies for r in run.results]


def started(name: str, make, workers: int) -> Executor:
    start = time.perf_counter()
    executor = make()
    up = time.perf_counter() - start
    print(f"{name:<24} start {up:6.2f} s  warm-up {warm(executor, workers):6.2f} s", flush=True)
    return executor


def result(args: argparse.Namespace) -> None:
    spec = SearchSpec(query=BASE, seeds=args.seeds, settings=dataclasses.replace(SEARCH, steps=args.steps))
    points = plan(spec)
    executor = PoolExecutor(args.workers)
    try:
        with tempfile.TemporaryDirectory() as out:
            run = run_search(spec, out, executor, points=points)
    finally:
        executor.close()
    print(
        f"{len(points)} networks x {spec.seeds} seeds, {spec.steps} steps, "
        f"{run.wall_seconds:.1f} s on {executor.description}"
    )
    for r in run.results:
        print(
            f"  {r.point.label:<36} {r.point.macs / 1e6:7.3f} M MACs  "
            f"{r.accuracy:6.1%} ± {r.spread:5.1%}  {r.point.query}"
        )
    print(verdict_sentence(verdict(run.results)))


def recorded(name: str) -> None:
    from explorer.analysis.runs import RUNS_DIR, read_run
    from explorer.analysis.search import PointResult, SearchSpec, ranking
    from explorer.views.search_text import claim_in_words, ranking_sentence

    run = read_run(RUNS_DIR / name)
    spec = SearchSpec.from_dict(run.data["spec"])
    results = [PointResult.from_json(p) for p in run.data["points"]]
    card = run.card
    print(f"{run.title}\n{card['command']}\n{card['executor']}, {card['wall_s']:.0f} s, load {card.get('load')}")
    print(f"{len(results)} points ({len({r.point.query for r in results})} networks) x {spec.seeds} seeds")
    for r in results:
        seeds = " ".join(f"{a:6.1%}" for a in r.accuracies)
        print(
            f"  {r.point.label:<34} {r.point.macs / 1e6:6.2f} M MACs  {r.accuracy:6.1%} ± {r.spread:4.1%} "
            f"(se {r.standard_error:4.1%}, {len(r.accuracies)} seeds)  [{seeds}]  {r.train_seconds:6.1f} s  "
            f"{r.point.query}"
        )
    ranked = ranking(results)
    assert ranked is not None
    print(
        f"span {ranked.accuracy_range:.1%}, largest spread {ranked.largest_spread:.1%} "
        f"(median {statistics.median(r.spread for r in results):.1%}): ranks = {ranked.ranks}; "
        f"winner - runner-up {ranked.difference:+.1%} against a margin of {ranked.noise:.1%} (half the 95% "
        f"interval; their combined spread {math.hypot(ranked.winner.spread, ranked.runner_up.spread):.1%}): "
        f"separated = {ranked.separated}; beyond either's spread = {ranked.clear_of_spread}; "
        "ahead in {} of {} shared seeds".format(*ranked.seeds_ahead)
    )
    outcome, _ = claim_in_words(verdict(results), ranked)
    print(f"the claim: {outcome}\n{verdict_sentence(verdict(results))}\n{ranking_sentence(ranked)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--repeats", type=int, default=2, help="searches per executor, round-robin (median)")
    parser.add_argument("--no-ray", action="store_true")
    parser.add_argument("--result", action="store_true", help="the Search tab's default search and its verdict")
    parser.add_argument("--recorded", metavar="NAME", help="print the figures of assets/runs/NAME (no training)")
    args = parser.parse_args()
    if args.recorded:
        recorded(args.recorded)
        return
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores; load {os.getloadavg()[0]:.2f}")
    if args.result:
        result(args)
        return
    spec = SearchSpec(
        query=BASE,
        alphas=(1.2,),
        betas=(1.1,),
        gammas=(1.15, 1.2),
        seeds=args.seeds,
        settings=dataclasses.replace(SEARCH, steps=args.steps),
    )
    points = plan(spec)
    tasks = len({p.query for p in points}) * spec.seeds
    w = args.workers
    executors = {
        "pool, 1 worker": started("pool, 1 worker", lambda: PoolExecutor(1), 1),
        f"pool, {w} workers": started(f"pool, {w} workers", lambda: PoolExecutor(w), w),
    }
    if not args.no_ray:
        executors[f"Ray (local), {w} CPUs"] = started(f"Ray (local), {w} CPUs", lambda: RayExecutor("auto", w), w)
    walls: dict[str, list[float]] = {name: [] for name in executors}
    accuracies: dict[str, list] = {}
    try:
        for round_ in range(args.repeats):  # round-robin, so a change in the machine's load hits all alike
            for name, executor in executors.items():
                wall, accuracies[name] = search_once(executor, spec, points)
                walls[name].append(wall)
                print(f"  round {round_ + 1}: {name:<24} {wall:7.2f} s", flush=True)
    finally:
        for executor in executors.values():
            executor.close()
    median = {name: statistics.median(values) for name, values in walls.items()}
    for name, value in median.items():
        print(f"{name:<24} search median {value:7.2f} s ({tasks} tasks, {value / tasks:.3f} s/task)")
    names = list(executors)
    print(f"speed-up 1 -> {w} workers: x{median[names[0]] / median[names[1]]:.2f}")
    if not args.no_ray:
        print(
            f"Ray overhead per task vs the pool at {w} workers: "
            f"{(median[names[2]] - median[names[1]]) / tasks * 1000:+.0f} ms"
        )
    print(f"identical accuracies across executors: {len({str(v) for v in accuracies.values()}) == 1}")
    print(f"load after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
