"""Cost of one signal-flow analysis against a bare forward + backward of the same model and batch.

    python bench/bench_signal.py [--repeats N] [--batch B] [CASE ...]

A case is ``QUERY`` or ``QUERY@RESOLUTION`` (default: ResNet-50 at 112 px and 224 px, plain-56,
preact ResNet-1001). Per case, after one warm-up of each, the two are timed alternately ``N`` times
(so a busy machine slows both alike); the medians and their ratio are printed, and the ratio of the
fastest runs (min-ratio), the least disturbed by other work on the machine:

    bare     ``loss = cross_entropy(model(x), y); loss.backward()`` in training mode, the ordinary
             training step without the optimiser (weights' ``.grad`` zeroed between runs, untimed)
    signal   ``explorer.analysis.signal.signal(config, built, batch=B, resolution=R)``: hooks on every
             conv/linear layer, activation std/mean and output-gradient norms, BN buffers saved and
             restored, all of it on the same built model and the same batch

The target is ratio <= 1.3. The analysis backpropagates to the input only (``torch.autograd.grad``
with respect to the images), skipping the weight gradients a training step computes, which is why it
can come out cheaper than the bare step.
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

from explorer.analysis.signal import probe_batch, signal
from explorer.config import parse_query
from explorer.runtime.models import build_seeded

DEFAULT_CASES = (
    "preset=resnet50@112",
    "preset=resnet50@224",
    "family=plain&depth=56&bn=off@32",
    "preset=preact_resnet1001@32",
)


def bare_step(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> None:
    model.train()
    loss = F.cross_entropy(model(x), y)
    loss.backward()


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="*", default=list(DEFAULT_CASES))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", type=int, default=2)
    args = parser.parse_args()
    print(
        f"# {platform.machine()} {platform.processor() or ''} torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, python {platform.python_version()}, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print(f"# batch {args.batch}, median of {args.repeats} alternating runs after one warm-up each")
    print(f"{'case':<36} {'bare ms':>9} {'signal ms':>10} {'ratio':>6} {'min-ratio':>10}")
    worst = 0.0
    for case in args.cases:
        query, _, res = case.partition("@")
        config = parse_query(query)
        resolution = int(res) if res else config.input_resolution
        built = build_seeded(config, seed=0)
        model = built.module
        x, y = probe_batch(args.batch, resolution, config.in_channels, config.classes, seed=0)

        def run_bare(model=model, x=x, y=y) -> None:
            bare_step(model, x, y)

        def run_signal(config=config, built=built, resolution=resolution) -> None:
            signal(config, built, batch=args.batch, resolution=resolution)

        bare_times, signal_times = [], []
        run_bare()
        run_signal()
        for _ in range(args.repeats):
            model.zero_grad(set_to_none=True)
            bare_times.append(timed(run_bare))
            signal_times.append(timed(run_signal))
        bare, sig = statistics.median(bare_times), statistics.median(signal_times)
        best = min(signal_times) / min(bare_times)  # fastest against fastest: least disturbed by a busy machine
        worst = max(worst, sig / bare)
        print(f"{case:<36} {bare * 1e3:>9.1f} {sig * 1e3:>10.1f} {sig / bare:>5.2f}x {best:>9.2f}x", flush=True)
    print(f"# worst ratio {worst:.2f}x (target <= 1.30x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
