"""The same work on the CPU and on each accelerator this machine has, as ratios from one run.

    python bench/bench_devices.py [--repeats N] [--batch B]

Per task, after one warm-up on each device, the devices are timed alternately ``N`` times (so a
busy machine slows them alike) and the medians printed with the ratio CPU / device (how many times
faster the device is). Accelerators are synchronised before the clock stops. Tasks:

    signal    ``explorer.analysis.signal.signal`` of ResNet-50 at 224 px, batch B (default 32)
    gradcam   ``explorer.analysis.saliency.grad_cam`` of ResNet-50 on one 224 px image
    train     one training step (forward, backward, Adam update) of ResNet-20 on 32 px shapes, batch 64,
              in full float32, and under bf16 autocast where the device is CUDA
    profile   the Build page's profile of ResNet-50 (meta device: the same on every machine; printed
              once as the reference that no device is needed for it)

It also prints, for signal and gradcam, the largest relative difference between the device's numbers
and the CPU's (the agreement the README promises: 1e-3). On a machine with no accelerator it says so
and times the CPU alone.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import torch

from explorer.analysis.saliency import grad_cam
from explorer.analysis.signal import signal
from explorer.analysis.training import Fresh, TrainSettings, TrainSpec, train
from explorer.config import parse_query
from explorer.measure.profile import profile
from explorer.runtime.device import available_devices, describe, synchronize
from explorer.runtime.models import build_seeded

RESNET50 = parse_query("preset=resnet50")
RESNET20 = parse_query("preset=resnet20")


def timed(fn: Callable[[], object], device: torch.device) -> float:
    synchronize(device)
    start = time.perf_counter()
    fn()
    synchronize(device)
    return time.perf_counter() - start


def relative_difference(a: list[float] | np.ndarray, b: list[float] | np.ndarray) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-12)))


def tasks(device: torch.device, batch: int) -> dict[str, Callable[[], object]]:
    """One callable per task on ``device``; models built once, outside the timed part."""
    r50 = build_seeded(RESNET50, seed=0, device=device)
    image = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    found: dict[str, Callable[[], object]] = {
        "signal": lambda: signal(RESNET50, r50, batch=batch, seed=0),
        "gradcam": lambda: grad_cam(r50, image, target=1),
    }
    for autocast in (False, True) if device.type == "cuda" else (False,):
        settings = TrainSettings(
            optimizer="adam", lr=1e-3, steps=10**6, batch=64, record_every=None, autocast=autocast
        )
        steps = train(TrainSpec(model=Fresh(RESNET20), settings=settings, device=device))
        found["train bf16" if autocast else "train"] = lambda steps=steps: next(steps)
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", type=int, default=32)
    args = parser.parse_args()
    devices = [torch.device(d) for d in available_devices()]
    print(
        f"# {platform.machine()} torch {torch.__version__}, python {platform.python_version()}, "
        f"load average {os.getloadavg()[0]:.1f}; devices: {', '.join(describe(d) for d in devices)}"
    )
    start = time.perf_counter()
    result = profile(RESNET50)
    print(f"# profile (meta device, no accelerator needed): {(time.perf_counter() - start) * 1e3:.0f} ms, "
          f"{result.params:,} params, {result.macs / 1e9:.2f} G MACs")  # fmt: skip
    cpu = torch.device("cpu")
    accelerators = [d for d in devices if d.type != "cpu"]
    if not accelerators:
        print("# no accelerator here: CPU times only (ratios need a CUDA or MPS machine)")
    per_device = {d.type: tasks(d, args.batch) for d in devices}
    names = list(per_device[accelerators[0].type] if accelerators else per_device["cpu"])
    print(f"# batch {args.batch} for signal; median of {args.repeats} alternating runs after one warm-up each")
    header = f"{'task':<12} {'cpu ms':>9}" + "".join(f" {d.type + ' ms':>9} {'cpu/' + d.type:>9}" for d in accelerators)
    print(header)
    for name in names:
        times: dict[str, list[float]] = {d.type: [] for d in devices}
        runnable = [d for d in devices if name in per_device[d.type]]
        for d in runnable:
            per_device[d.type][name]()  # warm-up
        for _ in range(args.repeats):
            for d in runnable:
                times[d.type].append(timed(per_device[d.type][name], d))
        cpu_ms = statistics.median(times["cpu"]) * 1e3 if times["cpu"] else float("nan")
        line = f"{name:<12} {cpu_ms:>9.1f}"
        for d in accelerators:
            if times[d.type]:
                ms = statistics.median(times[d.type]) * 1e3
                line += f" {ms:>9.1f} {cpu_ms / ms:>8.1f}x"
            else:
                line += f" {'-':>9} {'-':>9}"
        print(line, flush=True)
    for d in accelerators:
        here = signal(RESNET50, build_seeded(RESNET50, seed=0, device=d), batch=args.batch, seed=0)
        there = signal(RESNET50, build_seeded(RESNET50, seed=0, device=cpu), batch=args.batch, seed=0)
        image = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(0))
        cam_here = grad_cam(build_seeded(RESNET50, seed=0, device=d), image, target=1, relu=False).heatmap
        cam_cpu = grad_cam(build_seeded(RESNET50, seed=0, device=cpu), image, target=1, relu=False).heatmap
        print(
            f"# {d.type} vs cpu, same seed: activation std max rel diff "
            f"{relative_difference(here.series('activation_std'), there.series('activation_std')):.1e}, "
            f"grad norm {relative_difference(here.series('grad_norm'), there.series('grad_norm')):.1e}, "
            f"Grad-CAM max abs diff / peak {np.max(np.abs(cam_here - cam_cpu)) / np.max(np.abs(cam_cpu)):.1e}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
