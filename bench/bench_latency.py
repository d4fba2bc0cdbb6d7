"""MACs vs measured time per preset: how far counted work is from time on this machine.

For each preset: counted MACs (meta-device profile), then the median forward time at batch 1 and at
a larger batch, measured with ``explorer.analysis.latency.measure`` (warm-up runs, each timed run on
its own with the device synchronised, median), and the ratio that matters: nanoseconds per MAC. If
MACs predicted time, that column would be constant; the last line prints how far apart its extremes
are in this run. Every model goes through the memory guard before it is built.

    python bench/bench_latency.py [--device auto] [--batch 8] [--repeats 5] [--warmup 2] [--max-gmacs 5]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from explorer.analysis.latency import measure  # noqa: E402
from explorer.config import preset_config  # noqa: E402
from explorer.measure.profile import profile  # noqa: E402
from explorer.runtime.device import best_device, describe  # noqa: E402

PRESETS = (
    "mobilenet_v3_small",
    "mobilenet_v3_large",
    "mobilenet_v2",
    "mobilenet_v1",
    "efficientnet_b0",
    "efficientnet_b1",
    "efficientnet_b2",
    "resnet18",
    "resnet34",
    "resnet50",
    "densenet121",
    "vgg11",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--batch", type=int, default=8, help="the larger batch (batch 1 is always run)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--max-gmacs", type=float, default=5.0, help="skip presets above this many GMACs")
    args = parser.parse_args()
    device = best_device(args.device)
    print(f"{describe(device)}; torch {torch.__version__}; {platform.machine()}; load {os.getloadavg()[0]:.2f}")
    print(f"median of {args.repeats} timed runs after {args.warmup} warm-up runs\n")
    big_ms, big_ns = f"ms b{args.batch}", f"ns/MAC b{args.batch}"
    header = f"{'preset':<20} {'GMACs':>7} {'ms b1':>9} {'ns/MAC b1':>10} {big_ms:>9} {big_ns:>11}"
    print(header)
    print("-" * len(header))
    rates: dict[str, float] = {}
    for name in PRESETS:
        config = preset_config(name)
        result = profile(config)
        if result.macs > args.max_gmacs * 1e9:
            continue
        one = measure(config, device, 1, args.warmup, args.repeats, result=result, memory=False)
        big = measure(config, device, args.batch, args.warmup, args.repeats, result=result, memory=False)
        rates[name] = big.ns_per_mac
        print(
            f"{name:<20} {result.macs / 1e9:>7.3f} {one.median_s * 1e3:>9.1f} {one.ns_per_mac:>10.3f} "
            f"{big.median_s * 1e3:>9.1f} {big.ns_per_mac:>11.3f}"
        )
    slow, fast = max(rates, key=rates.get), min(rates, key=rates.get)
    print(
        f"\nns per MAC at batch {args.batch}: {slow} {rates[slow]:.3f} vs {fast} {rates[fast]:.3f}: "
        f"{rates[slow] / rates[fast]:.1f}x apart (equal if MACs predicted time)"
    )


if __name__ == "__main__":
    main()
