"""Training steps per second on shapes: torchvision's deformable-conv op against the sampling path,
and one intra-op thread against two, measured in one run.

    python bench/bench_training.py [--repeats N] [--batch B] [CASE ...]

A step is what ``explorer.analysis.training.train`` does between its measured steps: ``zero_grad``,
forward, cross-entropy, backward, SGD step (lr 0.01, momentum 0.9), on a batch of shapes images
standardised as the trainer does, drawn beforehand (data generation is timed apart and printed; the
trainer pays it on top of every step).

A case is ``QUERY`` (shapes version 1 at the config's resolution, 32 px for these) or ``QUERY@v2``
(shapes version 2 at its default side, 64 px, the query's resolution set to match). For a case with
deformable layers, steps alternate round-robin between four settings on the same model:
``backend="torchvision"`` (``torchvision.ops.deform_conv2d``) and ``backend="sampling"``
(``explorer.families.nets.deformable.sampled_deform_conv2d``), each with ``torch.set_num_threads(1)`` and
``(2)``; after one warm-up step of each, ``N`` steps each, so a busy machine slows all alike. The
medians, steps/s and the ratios are printed. ``@v2`` cases and cases without deformable layers run
``backend="auto"`` only (torchvision's op at 64 px would take minutes). Only this script sets the
thread count; the library leaves it alone. First, unless ``--no-layer``: the single deformable layer
the deformable page trains (16->16 channels at 32x32), forward and forward + backward, per backend and thread count.

``--learn STEPS [--learn-cases 1@32 2@32 2@64]`` measures something else, to compare shapes versions:
the held-out accuracy of ResNet-20 after STEPS training steps on each, and its two weakest classes.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from explorer.config import parse_query
from explorer.data.shapes import DEFAULT_RESOLUTION, ShapesDataset, standardise
from explorer.families import build
from explorer.families.nets.deformable import DeformableConv2d, set_backend

DEFAULT_CASES = (
    "family=plain&depth=8&deform=on",
    "family=plain&depth=8&deform=on&modulated=on",
    "preset=resnet20&deform=3",
    "preset=resnet20",
    "family=plain&depth=8&deform=on@v2",
    "preset=resnet20@v2",
)


def load() -> str:
    try:
        return " ".join(f"{v:.1f}" for v in os.getloadavg())
    except OSError:
        return "n/a"


class Case:
    """One model of ``case`` (see the module docs) with its SGD optimiser and a fixed batch of shapes."""

    def __init__(self, case: str, batch: int) -> None:
        query, _, suffix = case.partition("@")
        version = 2 if suffix == "v2" else 1
        if suffix not in ("", "v2"):
            raise SystemExit(f"error: case '{case}': the only suffix is @v2")
        if version == 2:
            query = f"{query}&resolution={DEFAULT_RESOLUTION[2]}"
        torch.manual_seed(0)
        self.name = case
        self.config = parse_query(query)
        self.model = build(self.config).module.train()
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=0.01, momentum=0.9)
        self.side = self.config.input_resolution
        start = time.perf_counter()
        dataset = ShapesDataset(resolution=self.side, in_channels=self.config.in_channels, seed=0, version=version)
        shapes = dataset.batch(range(batch))
        self.data_s = time.perf_counter() - start
        self.x = standardise(shapes.images)
        self.y = shapes.labels % self.config.classes
        self.deformable = set_backend(self.model, "auto") > 0 and version == 1

    def step(self) -> float:
        start = time.perf_counter()
        self.optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(self.model(self.x), self.y)
        loss.backward()
        self.optimizer.step()
        return time.perf_counter() - start

    def set(self, backend: str, threads: int) -> None:
        set_backend(self.model, backend)  # type: ignore[arg-type]
        torch.set_num_threads(threads)


def round_robin(case: Case, settings: list[tuple[str, int]], repeats: int) -> dict[tuple[str, int], float]:
    """Median step seconds per (backend, threads), one warm-up step each, then ``repeats`` rounds."""
    times: dict[tuple[str, int], list[float]] = {setting: [] for setting in settings}
    for setting in settings:
        case.set(*setting)
        case.step()
    for _ in range(repeats):
        for setting in settings:
            case.set(*setting)
            times[setting].append(case.step())
    return {setting: statistics.median(values) for setting, values in times.items()}


def one_layer(repeats: int, batch: int) -> None:
    """The single-layer figure: one 3x3 deformable conv, 16->16 channels at 32x32, random
    offsets (std 1 px), forward alone and forward + backward, per backend, at 1 and 2 threads."""
    torch.manual_seed(0)
    layer = DeformableConv2d(16, 16, 3, padding=1)
    nn.init.normal_(layer.offset_conv.weight, std=0.1)
    x = torch.randn(batch, 16, 32, 32, requires_grad=True)

    def forward() -> None:
        with torch.no_grad():
            layer(x)

    def forward_backward() -> None:
        layer.zero_grad(set_to_none=True)
        layer(x).square().mean().backward()

    print(f"one deformable 3x3 layer, 16->16 channels, 32x32, batch {batch} (median of {repeats})")
    for threads in (1, 2):
        torch.set_num_threads(threads)
        for label, run in (("forward", forward), ("forward+backward", forward_backward)):
            medians = {}
            for backend in ("torchvision", "sampling"):
                layer.backend = backend  # type: ignore[assignment]
                run()
                medians[backend] = statistics.median(timed(run) for _ in range(repeats))
            tv, sampled = medians["torchvision"], medians["sampling"]
            print(
                f"  {threads} thread(s) {label:<17} torchvision {tv * 1000:6.0f} ms, sampling {sampled * 1000:5.0f} ms,"
                f" {tv / sampled:5.1f}x"
            )
    print()


def timed(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def learn(steps: int, cases: list[str]) -> None:
    """Held-out accuracy of ResNet-20 after ``steps`` Adam steps (lr 2e-3, batch 32, 1 thread) on
    each ``VERSION@SIDE`` case, evaluated (eval mode) on 400 images of another seed."""
    torch.set_num_threads(1)
    print(f"learnability: preset=resnet20, {steps} Adam steps (lr 2e-3, batch 32), held-out 400 images")
    for case in cases:
        version, side = (int(part) for part in case.split("@"))
        torch.manual_seed(0)
        config = parse_query(f"preset=resnet20&resolution={side}")
        model = build(config).module.train()
        optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
        data = ShapesDataset(resolution=side, seed=0, version=version).batches(32)
        start = time.perf_counter()
        for _ in range(steps):
            shapes = next(data)
            loss = F.cross_entropy(model(standardise(shapes.images)), shapes.labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        seconds = time.perf_counter() - start
        held = ShapesDataset(resolution=side, seed=1, version=version).batch(range(400))
        with torch.no_grad():
            predicted = model.eval()(standardise(held.images)).argmax(1)
        per_class = {
            name: float((predicted[held.labels == c] == c).float().mean()) for c, name in enumerate(held.classes)
        }
        weakest = sorted(per_class.items(), key=lambda item: item[1])[:2]
        accuracy = float((predicted == held.labels).float().mean())
        print(
            f"  shapes v{version} at {side} px: {accuracy:.1%} held-out ({seconds:.0f} s); weakest: "
            + ", ".join(f"{name} {value:.0%}" for name, value in weakest)
        )


def cell(seconds: float | None) -> str:
    return f"{'-':>16}" if seconds is None else f"{seconds * 1000:7.0f} ms {1 / seconds:5.2f}/s"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="*", default=list(DEFAULT_CASES))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--no-layer", action="store_true", help="skip the single-layer timing")
    parser.add_argument(
        "--learn",
        type=int,
        metavar="STEPS",
        help="instead: held-out accuracy after STEPS training steps per shapes version (see learn())",
    )
    parser.add_argument("--learn-cases", nargs="+", default=["1@32", "2@32"], metavar="VERSION@SIDE")
    args = parser.parse_args()
    if args.learn:
        before = torch.get_num_threads()
        try:
            learn(args.learn, args.learn_cases)
        finally:
            torch.set_num_threads(before)
        return 0
    print(
        f"{platform.machine()} {os.cpu_count()} CPUs, torch {torch.__version__} ({torch.get_num_threads()} threads),"
        f" torchvision {torchvision.__version__}, Python {platform.python_version()}; load average {load()}"
    )
    print(f"batch {args.batch}, median of {args.repeats} steps per setting, settings alternating round-robin\n")
    before = torch.get_num_threads()
    if not args.no_layer:
        try:
            one_layer(args.repeats, args.batch)
        finally:
            torch.set_num_threads(before)
    header = f"{'case':<46} {'px':>3} {'thr':>3} {'torchvision':>16} {'sampling':>16} {'tv/samp':>7} {'data':>6}"
    print(header)
    rows: list[tuple[str, dict[tuple[str, int], float]]] = []
    try:
        for name in args.cases:
            case = Case(name, args.batch)
            backends = ("torchvision", "sampling") if case.deformable else ("auto",)
            medians = round_robin(case, [(b, t) for b in backends for t in (1, 2)], args.repeats)
            rows.append((name, medians))
            for threads in (1, 2):
                tv = medians.get(("torchvision", threads))
                sampled = medians.get(("sampling", threads), medians.get(("auto", threads)))
                ratio = f"{tv / sampled:6.1f}x" if tv and sampled else f"{'':>7}"
                print(
                    f"{name:<46} {case.side:>3} {threads:>3} {cell(tv)} {cell(sampled)} {ratio}"
                    f" {case.data_s * 1000:4.0f}ms"
                )
    finally:
        torch.set_num_threads(before)
    print("\nthreads, 2 vs 1 (steps/s with 2 threads / steps/s with 1; below 1: the second thread costs time)")
    for name, medians in rows:
        parts = [
            f"{backend} {medians[(backend, 1)] / medians[(backend, 2)]:.2f}x"
            for backend in ("torchvision", "sampling", "auto")
            if (backend, 1) in medians
        ]
        print(f"  {name:<46} {', '.join(parts)}")
    print(f"\nload average at the end: {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
