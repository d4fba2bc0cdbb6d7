"""Training steps per second on shapes: torchvision's deformable-conv op against the sampling path,
and one intra-op thread against two.

    python bench/bench_training.py [--repeats N] [--batch B] [--threads-only | --no-threads]

A step is what ``explorer.analysis.training.train`` does between its measured steps: ``zero_grad``,
forward, cross-entropy, backward, SGD step (lr 0.01, momentum 0.9), on a batch of shapes images
(version 1, 32 px, standardised as the trainer does) drawn beforehand, so data generation is timed
apart (printed once; the trainer pays it on top of every step).

Part 1, per config with deformable layers: after one warm-up step of each, steps alternate between
``backend="torchvision"`` (``torchvision.ops.deform_conv2d``) and ``backend="sampling"``
(``explorer.families.deformable.sampled_deform_conv2d``) on the same model, ``N`` times each (so a
busy machine slows both alike); medians, steps/s and their ratio are printed. A config without
deformable layers (``preset=resnet20``) runs once, as the yardstick.

Part 2: the same alternation between ``torch.set_num_threads(1)`` and ``(2)`` for a few configs on
the path the app uses by default (``backend="auto"``: sampling on the CPU). Only this script sets
the thread count; the library leaves it alone.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch
import torch.nn.functional as F
import torchvision

from explorer.config import parse_query
from explorer.data.shapes import ShapesDataset
from explorer.families import build
from explorer.families.deformable import set_backend

BACKEND_CASES = (
    "family=plain&depth=8&deform=on",
    "family=plain&depth=8&deform=on&modulated=on",
    "preset=resnet20&deform=3",
    "preset=resnet20",
)
THREAD_CASES = ("family=plain&depth=8&deform=on", "preset=resnet20&deform=3", "preset=resnet20")
INPUT_MEAN, INPUT_STD = 0.5, 0.25  # the trainer's standardisation (explorer.analysis.signal)


def load() -> str:
    try:
        return " ".join(f"{v:.1f}" for v in os.getloadavg())
    except OSError:
        return "n/a"


class Case:
    """One model of ``query`` with its SGD optimiser and a fixed batch of shapes."""

    def __init__(self, query: str, batch: int) -> None:
        torch.manual_seed(0)
        self.query = query
        self.config = parse_query(query)
        self.model = build(self.config).module.train()
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=0.01, momentum=0.9)
        side = self.config.input_resolution
        start = time.perf_counter()
        shapes = ShapesDataset(resolution=side, in_channels=self.config.in_channels, seed=0).batch(range(batch))
        self.data_s = time.perf_counter() - start
        self.x = (shapes.images - INPUT_MEAN) / INPUT_STD
        self.y = shapes.labels % self.config.classes

    def step(self) -> float:
        start = time.perf_counter()
        self.optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(self.model(self.x), self.y)
        loss.backward()
        self.optimizer.step()
        return time.perf_counter() - start


def alternate(case: Case, settings: dict[str, object], apply, repeats: int) -> dict[str, float]:
    """Median step seconds per setting, steps alternating between settings after one warm-up each."""
    times: dict[str, list[float]] = {name: [] for name in settings}
    for value in settings.values():
        apply(value)
        case.step()
    for _ in range(repeats):
        for name, value in settings.items():
            apply(value)
            times[name].append(case.step())
    return {name: statistics.median(values) for name, values in times.items()}


def backends(batch: int, repeats: int) -> None:
    print(f"\n== deformable op: torchvision vs sampling (batch {batch}, 32 px, median of {repeats}) ==")
    print(f"{'query':<46} {'torchvision':>16} {'sampling':>16} {'ratio':>7}  data/batch")
    for query in BACKEND_CASES:
        case = Case(query, batch)
        if set_backend(case.model, "auto") == 0:
            median = alternate(case, {"auto": None}, lambda _: None, repeats)["auto"]
            print(
                f"{query:<46} {'(no deformable layers)':>16} {median * 1000:7.0f} ms {1 / median:5.1f}/s"
                f" {'':>7}  {case.data_s * 1000:.0f} ms"
            )
            continue
        medians = alternate(
            case, {"torchvision": "torchvision", "sampling": "sampling"}, partial(set_backend, case.model), repeats
        )
        tv, sampled = medians["torchvision"], medians["sampling"]
        print(
            f"{query:<46} {tv * 1000:7.0f} ms {1 / tv:5.2f}/s {sampled * 1000:7.0f} ms {1 / sampled:5.1f}/s"
            f" {tv / sampled:6.1f}x  {case.data_s * 1000:.0f} ms"
        )


def threads(batch: int, repeats: int) -> None:
    print(f"\n== intra-op threads: 1 vs 2 (batch {batch}, backend auto, median of {repeats}) ==")
    print(f"{'query':<46} {'1 thread':>16} {'2 threads':>16} {'2 vs 1':>7}")
    before = torch.get_num_threads()
    try:
        for query in THREAD_CASES:
            case = Case(query, batch)
            medians = alternate(case, {"1": 1, "2": 2}, torch.set_num_threads, repeats)
            one, two = medians["1"], medians["2"]
            print(
                f"{query:<46} {one * 1000:7.0f} ms {1 / one:5.1f}/s {two * 1000:7.0f} ms {1 / two:5.1f}/s"
                f" {one / two:6.2f}x"
            )
    finally:
        torch.set_num_threads(before)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", type=int, default=64)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--threads-only", action="store_true")
    group.add_argument("--no-threads", action="store_true")
    args = parser.parse_args()
    print(
        f"{platform.machine()} {os.cpu_count()} CPUs, torch {torch.__version__} ({torch.get_num_threads()} threads),"
        f" torchvision {torchvision.__version__}, Python {platform.python_version()}; load average {load()}"
    )
    if not args.threads_only:
        backends(args.batch, args.repeats)
    if not args.no_threads:
        threads(args.batch, args.repeats)
    print(f"\nload average at the end: {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
