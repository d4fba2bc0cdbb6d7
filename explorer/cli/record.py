"""``python -m explorer record lesson NAME --set KEY=VALUE ... --name RUN``: run a lesson's training
comparison with other parameters (a longer budget, other seeds) and store it as a recorded run,
``assets/runs/RUN/`` (``data.json``: every step's loss per config and seed; ``card.json``: the exact
command, seeds, settings, device, threads, torch version, wall time, load and checksum; see
:mod:`explorer.analysis.runs`). The Lessons page opens it instantly and re-runs it live on request.

``--threads`` sets torch's intra-op threads for the run (default 1: the same thread count as the
tests that re-run a record's first steps, so their losses match the record to float32 rounding: another
processor sums in another order, so a replay agrees to about 1e-7 relative, not bit for bit).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from explorer.cli.base import UsageError

if TYPE_CHECKING:
    import torch


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from explorer.analysis.runs import RUNS_DIR

    parser.add_argument("what", choices=["lesson"], help="what to record: a lesson's training comparison")
    parser.add_argument("lesson", metavar="LESSON", help="the lesson's name, e.g. 02_degradation")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an experiment parameter, the value in TOML (e.g. steps=1500, seeds=[0,1,2])",
    )
    parser.add_argument("--name", required=True, help="the run's folder name under --out")
    parser.add_argument("--title", default="", help="a title for the run (default: the lesson's)")
    parser.add_argument("--out", type=Path, default=RUNS_DIR, help=f"runs folder (default {RUNS_DIR})")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1)")
    parser.add_argument(
        "--workers", type=int, default=1, help="processes, one (config, seed) run each at a time (default 1)"
    )


def _params(pairs: list[str]) -> dict[str, object]:
    import tomllib

    params: dict[str, object] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise UsageError(f"--set {pair!r}: expected KEY=VALUE")
        try:
            params[key.strip()] = tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError as error:
            raise UsageError(f"--set {pair!r}: the value is not TOML ({error})") from None
    return params


def record_lesson(lesson_name: str, params: dict[str, object], device: str, progress=None, workers: int = 1):
    """The lesson variant run (``params`` over the file's) and its losses (``workers`` > 1: the
    (config, seed) runs in a pool of that many processes, each with the caller's thread count)."""
    import torch

    from explorer.analysis.lessons import LESSONS_DIR, load_lesson
    from explorer.analysis.lessons.experiments import EXPERIMENTS, training_losses

    path = LESSONS_DIR / f"{lesson_name}.toml"
    if not path.is_file():
        raise UsageError(f"no lesson '{lesson_name}' in {LESSONS_DIR}")
    lesson = load_lesson(path)
    if lesson.kind != "training_comparison":
        raise UsageError(f"lesson '{lesson_name}' is a {lesson.kind}; only training comparisons are recorded")
    allowed = EXPERIMENTS[lesson.kind].params
    for key in params:
        if key not in allowed:
            raise UsageError(f"--set {key}: not a parameter of {lesson.kind}; allowed: {', '.join(allowed)}")
    lesson = lesson.with_params(**params)
    if workers <= 1:
        return lesson, training_losses(lesson, device, progress)
    from concurrent.futures import ProcessPoolExecutor

    from explorer.analysis.lessons.experiments import one_run_losses

    seeds = [int(s) for s in lesson.params["seeds"]]
    tasks = [(c.label, seed) for c in lesson.configs for seed in seeds]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = {
            task: pool.submit(one_run_losses, lesson, task[0], task[1], device, torch.get_num_threads())
            for task in tasks
        }
        losses: dict[str, list[list[float]]] = {}
        for done, (task, future) in enumerate(futures.items(), 1):
            losses.setdefault(task[0], []).append(future.result())
            if progress is not None:
                progress(done / len(tasks), f"{task[0]}, seed {task[1]} done")
    return lesson, losses


def cpu_name() -> str:
    """The CPU's model name and core count, for a record's ``device_name``."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()} ({os.cpu_count()} cores)"
    except OSError:
        pass
    return f"{platform.processor() or platform.machine()} ({os.cpu_count()} cores)"


def run(args: argparse.Namespace, device: torch.device) -> int:
    import torch

    from explorer.analysis.runs import write_run

    params = _params(args.set)
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    last = [0.0]

    def progress(done: float, text: str) -> None:
        if time.perf_counter() - last[0] > 10:
            last[0] = time.perf_counter()
            print(f"{done:6.1%} {text} ({time.perf_counter() - start:.0f} s)", file=sys.stderr, flush=True)

    lesson, losses = record_lesson(args.lesson, params, str(device), progress, args.workers)
    wall = time.perf_counter() - start
    command = "python -m explorer " + shlex.join(
        ["--device", device.type, "record", "lesson", args.lesson]
        + [f"--set={p}" for p in args.set]
        + ["--name", args.name, "--threads", str(args.threads), "--workers", str(args.workers)]
        + (["--title", args.title] if args.title else [])
    )
    card = {
        "name": args.name,
        "title": args.title or lesson.title,
        "kind": "lesson",
        "lesson": lesson.name,
        "command": command,
        "seeds": list(lesson.params.get("seeds", [0, 1, 2])),
        "settings": {**lesson.params, "configs": {c.label: c.query for c in lesson.configs}},
        "device": device.type,
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_name(),
        "threads": torch.get_num_threads(),
        "workers": args.workers,
        "torch": torch.__version__,
        "wall_s": round(wall, 1),
        "load": [round(v, 2) for v in os.getloadavg()],
    }
    folder = args.out / args.name
    recorded = write_run(folder, card, {"lesson": lesson.name, "params": lesson.params, "losses": losses})
    print(json.dumps({"folder": str(folder), "wall_s": card["wall_s"], "checksum": recorded.card["checksum"]}))
    return 0
