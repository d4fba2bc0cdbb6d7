"""Where the grid search's seed spread comes from, and what narrows it (a search must rank its points).

    python bench/bench_search_noise.py [--points 'Q1;Q2'] [--seeds K] [--first-seed S] [--steps N] [--lr LR]
        [--schedule cosine|constant] [--ema D1,D2] [--held-out N] [--workers W] [--every E] [--scale LO:HI]

Each (point, seed) trains exactly as a search task does (``shapes_settings``: rotated shapes of
radius ``--scale`` (default 0.5-0.9), Adam, batch 32, the endless stream, one thread per worker)
while exponential moving averages of the weights (and BN buffers) with the decays given are kept
beside it. At the end the trained weights and every average are scored on ``--held-out`` images of
seed ``seed + 1`` (the search's held-out set). Printed per point: every seed's accuracy per model, mean ± spread (sample
standard deviation over seeds), the mean training loss per ``--every`` steps of the slowest and
fastest seed, and seconds per run.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

POINTS = (
    "family=plain&depth=7&width=8&resolution=12",  # the base: 79.9 / 71.5 / 79.4 % in the shipped record
    "family=plain&depth=9&width=9&resolution=13",  # 82.1 / 85.4 / 76.0 %
    "family=plain&depth=10&width=10&resolution=12",  # the winner, 91.6 / 89.3 / 90.9 %
)


def one(job: tuple[str, int, argparse.Namespace]) -> dict:
    import torch
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    from explorer.analysis.training import Owned, TrainSpec, held_out_accuracy, shapes_config, shapes_settings, train
    from explorer.config import parse_query
    from explorer.runtime.models import BuiltModel, instantiate

    query, seed, args = job
    torch.set_num_threads(1)
    config = parse_query(query)
    small = shapes_config(config, config.input_resolution)
    built = instantiate(small, "cpu", batch=args.batch, training=True, seed=seed)
    scale = tuple(float(v) for v in args.scale.split(":"))
    decays = [float(d) for d in args.ema.split(",") if d]
    averages = [AveragedModel(built.module, multi_avg_fn=get_ema_multi_avg_fn(d), use_buffers=True) for d in decays]

    def average(record) -> None:
        for each in averages:
            each.update_parameters(built.module)

    settings = shapes_settings(
        steps=args.steps,
        seed=seed,
        batch=args.batch,
        lr=args.lr,
        rotate=True,
        scale=scale,
        schedule=args.schedule,
        held_out=0,  # scored below, the raw weights and each average alike
    )
    held_out = settings.dataset(small.input_resolution, small.in_channels, seed=seed + 1)
    start = time.perf_counter()
    spec = TrainSpec(model=Owned(built), settings=settings, device="cpu", callbacks=(average,))
    losses = [r.loss for r in train(spec)]
    seconds = time.perf_counter() - start
    scores = {"raw": held_out_accuracy(built, held_out, args.held_out)}
    for decay, average in zip(decays, averages, strict=True):
        copy = BuiltModel(small, average.module, built.stages)
        copy.module.eval()
        scores[f"ema{decay:g}"] = held_out_accuracy(copy, held_out, args.held_out)
    curve = [statistics.fmean(losses[i : i + args.every]) for i in range(0, len(losses), args.every)]
    return {"query": query, "seed": seed, "scores": scores, "curve": curve, "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", default=",".join(POINTS).replace(",", ";"), help="queries, separated by ';'")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--first-seed", type=int, default=0, help="seeds FIRST..FIRST+K-1 (default 0)")
    parser.add_argument("--steps", type=int, default=1200)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--schedule", default="cosine")
    parser.add_argument("--ema", default="0.99,0.998", help="EMA decays, comma-separated ('' for none)")
    parser.add_argument("--held-out", type=int, default=2048)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--every", type=int, default=200)
    parser.add_argument("--scale", default="0.5:0.9", help="shape radius range LO:HI (default 0.5:0.9)")
    args = parser.parse_args()
    queries = [q for q in args.points.split(";") if q]
    print(
        f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}; {args.steps} steps, lr {args.lr:g} {args.schedule}, "
        f"batch {args.batch}, scale {args.scale}, held-out {args.held_out}, EMA {args.ema or 'none'}",
        flush=True,
    )
    jobs = [(q, s, args) for q in queries for s in range(args.first_seed, args.first_seed + args.seeds)]
    start = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(args.workers) as pool:
        results = pool.map(one, jobs, chunksize=1)
    for query in queries:
        rows = [r for r in results if r["query"] == query]
        print(f"{query}  ({statistics.fmean(r['seconds'] for r in rows):.1f} s a run)")
        for name in rows[0]["scores"]:
            values = [r["scores"][name] for r in rows]
            spread = statistics.stdev(values) if len(values) > 1 else 0.0
            seeds = " ".join(f"{v:6.1%}" for v in values)
            print(f"  {name:<9} {statistics.fmean(values):6.1%} ± {spread:4.1%}   seeds {seeds}")
        for r in rows:
            print(f"  seed {r['seed']} loss per {args.every}: " + " ".join(f"{v:.3f}" for v in r["curve"]))
    print(f"wall {time.perf_counter() - start:.0f} s; load after {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
