"""Profile speed: explorer's meta-device ``profile()`` against ``torchinfo.summary`` on a real CPU model.

    python bench/bench_profile.py [--repeats 5]      (from the repository root, with the venv's python)

For each case it times, after one warm-up call each, ``--repeats`` calls of each (taking turns, so a
change in load hits all alike) and prints the medians:

* explorer: ``profile(parse_query("preset=..."))``: builds the model on the ``meta`` device and counts
  parameters, MACs and activation memory with ``FlopCounterMode``; no weights are allocated.
* torchinfo: what peer projects usually do, ``torchinfo.summary(torchvision.models.<name>(), input_size=...,
  verbose=0)``: builds the model with real (randomly initialised) weights and runs a forward pass on the
  CPU. Its summary call alone (on a model built beforehand) is timed too, so the build cost is visible.

The ratios are computed from the times measured in this run. It also checks that both count the same
number of parameters (exit code 1 if not) and prints both MAC totals (they count slightly different ops).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere


@dataclass(frozen=True)
class Case:
    preset: str
    torchvision_name: str
    resolution: int


CASES = (
    Case("efficientnet_b7", "efficientnet_b7", 600),
    Case("resnet50", "resnet50", 224),
)


def _load() -> str:
    """The load average, so a reader can tell a busy machine's numbers from a quiet one's."""
    if not hasattr(os, "getloadavg"):
        return "load average unknown"
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (1 min), {five:.1f} (5 min) on {os.cpu_count()} CPUs"


def median_seconds(calls: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median wall time of each call after one warm-up each.

    The calls take turns (a, b, c, a, b, c, ...) so that a change in the machine's load during the
    run affects all of them alike and the ratios stay fair.
    """
    for call in calls.values():
        call()  # warm-up: imports, allocator, caches
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per measurement (after one warm-up)")
    args = parser.parse_args(argv)

    import torch
    import torchinfo
    import torchvision

    from explorer.config import parse_query
    from explorer.measure.profile import profile

    print(
        f"machine: {platform.machine()} {platform.processor() or ''} {os.cpu_count()} CPUs, "
        f"torch {torch.__version__} ({torch.get_num_threads()} threads), torchvision {torchvision.__version__}, "
        f"torchinfo {torchinfo.__version__}, Python {platform.python_version()}"
    )
    print(f"median of {args.repeats} timed calls after 1 warm-up, batch 1, float32, CPU; {_load()}\n")
    header = (
        f"{'model':<16} {'px':>4} {'explorer':>10} {'torchinfo':>10} {'ratio':>7} "
        f"{'(summary':>10} {'ratio)':>7}  {'params (both)':>14}  {'MACs explorer':>15} {'MACs torchinfo':>15}"
    )
    print(header)
    print("-" * len(header))
    failures = []
    for case in CASES:
        config = parse_query(f"preset={case.preset}")
        if config.input_resolution != case.resolution:
            failures.append(f"{case.preset}: preset resolution {config.input_resolution}, expected {case.resolution}")
        input_size = (1, 3, case.resolution, case.resolution)
        constructor = getattr(torchvision.models, case.torchvision_name)

        ours = profile(config)
        prebuilt = constructor()
        theirs = torchinfo.summary(prebuilt, input_size=input_size, verbose=0, device="cpu")

        medians = median_seconds(
            {
                "explorer": lambda config=config: profile(config),
                "torchinfo": lambda constructor=constructor, input_size=input_size: torchinfo.summary(
                    constructor(), input_size=input_size, verbose=0, device="cpu"
                ),
                "summary": lambda model=prebuilt, input_size=input_size: torchinfo.summary(
                    model, input_size=input_size, verbose=0, device="cpu"
                ),
            },
            args.repeats,
        )
        t_explorer, t_torchinfo, t_summary = medians["explorer"], medians["torchinfo"], medians["summary"]
        del prebuilt

        same_params = ours.params == theirs.total_params
        if not same_params:
            failures.append(
                f"{case.preset}: explorer counts {ours.params:,} parameters, torchinfo {theirs.total_params:,}"
            )
        params = f"{ours.params:,}" if same_params else "DIFFER"
        print(
            f"{case.preset:<16} {case.resolution:>4} {t_explorer:>9.3f}s {t_torchinfo:>9.3f}s "
            f"{t_torchinfo / t_explorer:>6.1f}x {t_summary:>9.3f}s {t_summary / t_explorer:>6.1f}x  "
            f"{params:>14}  {ours.macs:>15,} {theirs.total_mult_adds:>15,}"
        )

    print(
        "\nexplorer = profile(parse_query('preset=...')) on the meta device; torchinfo = summary(torchvision model "
        "built with real weights), forward on the CPU; (summary) = summary of an already-built model. "
        "ratio = torchinfo time / explorer time."
    )
    print(f"after the run: {_load()}")
    for failure in failures:
        print(f"MISMATCH: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
