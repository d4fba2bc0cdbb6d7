"""The teaching recipes: what a class sees learn within a minute, measured per setting.

    python bench/bench_teaching.py [--threads 2] [--device cpu] [--bf16] [watch|degradation ...]

``watch``: "Train and watch" from fresh weights (:data:`explorer.analysis.training.TEACHING`:
upright shapes, radius 0.5-0.9, 4,096 pictures rendered once, Adam 2e-3, batch 64, 200 steps, the
signal flow measured every 10 steps, accuracy on 512 held-out pictures) for ResNet-8 (CIFAR stem,
width 16) at 16, 24 and 32 px, and at 16 px with batch 32. Printed per setting: the time to render
the pictures (the first step), the median step time, steps/s, the loss at steps 50/100/150/200,
held-out accuracy and the whole run's wall time.

``degradation``: lesson 02's recipe (``assets/lessons/02_degradation.toml``) per network and seed:
final loss (mean of the last 20 steps), wall time, and each network's mean ± std over the seeds.

The load average is printed first and last: on a shared machine the times are inflated, the
losses and accuracies are not (every run is seeded; results are deterministic on one device).
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

from explorer.analysis.training import TEACHING, Fresh, TrainSpec, train
from explorer.config import parse_query

WATCH = "family=resnet&stem=cifar&depth=8&width=16&classes=8"


def load() -> str:
    return "load average " + ", ".join(f"{v:.2f}" for v in os.getloadavg())


def watch(device: str, bf16: bool) -> None:
    print(f"\n# Train and watch (fresh weights), {WATCH}")
    print(
        f"{'setting':<22} {'render+1st s':>12} {'ms/step':>8} {'steps/s':>8}  "
        f"{'loss@50/100/150/200':<26} held-out  wall s"
    )
    for side, batch in ((16, 64), (24, 64), (32, 64), (16, 32)):
        config = dataclasses.replace(parse_query(WATCH), resolution=side)
        settings = dataclasses.replace(TEACHING, resolution=side, batch=batch, autocast=bf16)
        start = time.perf_counter()
        records = list(train(TrainSpec(model=Fresh(config), settings=settings, device=device)))
        wall = time.perf_counter() - start
        times = [b.elapsed_s - a.elapsed_s for a, b in itertools.pairwise(records)]
        losses = "/".join(f"{records[k - 1].loss:.3f}" for k in (50, 100, 150, 200))
        step = statistics.median(times)
        print(
            f"{side} px, batch {batch:<10} {records[0].elapsed_s:>12.2f} {step * 1e3:>8.1f} {1 / step:>8.1f}  "
            f"{losses:<26} {records[-1].held_out_accuracy:>7.1%} {wall:>7.1f}",
            flush=True,
        )


def degradation(device: str, bf16: bool) -> None:
    from explorer.analysis.lessons import LESSONS_DIR, load_lesson
    from explorer.analysis.lessons.experiments import training_settings

    lesson = load_lesson(LESSONS_DIR / "02_degradation.toml")
    tail = lesson.params["tail"]
    print(f"\n# Lesson 02 (degradation): {lesson.params}")
    total = time.perf_counter()
    for config in lesson.configs:
        ends = []
        for seed in lesson.params["seeds"]:
            settings = dataclasses.replace(training_settings(lesson, seed), autocast=bf16)
            start = time.perf_counter()
            spec = TrainSpec(model=Fresh(parse_query(config.query)), settings=settings, device=device)
            losses = [r.loss for r in train(spec)]
            ends.append(statistics.fmean(losses[-tail:]))
            print(f"{config.label:<12} seed {seed}: final loss {ends[-1]:.3f}  {time.perf_counter() - start:5.1f} s")
        print(f"{config.label:<12} {statistics.fmean(ends):.3f} ± {statistics.stdev(ends):.3f}", flush=True)
    print(f"all {len(lesson.configs) * len(lesson.params['seeds'])} runs: {time.perf_counter() - total:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", nargs="*", help="watch, degradation (default: both)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--bf16", action="store_true", help="bfloat16 autocast (GPU)")
    args = parser.parse_args()
    if unknown := set(args.what) - {"watch", "degradation"}:
        parser.error(f"unknown {sorted(unknown)}; allowed: watch, degradation")
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} threads, device {args.device}; {load()}")
    for what in args.what or ["watch", "degradation"]:
        {"watch": watch, "degradation": degradation}[what](args.device, args.bf16)
    print(f"\n{load()}")


if __name__ == "__main__":
    main()
