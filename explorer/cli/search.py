"""``python -m explorer search QUERY --out DIR``: EfficientNet's grid search for alpha, beta, gamma
with short trainings on shapes (see :mod:`explorer.analysis.search`).

Every grid point with alpha·beta²·gamma² within ``--tolerance`` of 2, the base network and the
depth-only, width-only and resolution-only baselines at about 2x the base's MACs are trained for
``--steps`` steps with seeds 0..K-1; ``DIR/results.jsonl`` gets one JSON line per finished point as
it finishes, and a rerun with the same arguments skips those. ``--settle N`` then trains the networks
the conclusions rest on (winner, runner-up, best compound point and its baselines) with seeds
K..N-1: the margin between two means shrinks about as 1/sqrt(seeds).
Ctrl-C stops at once and keeps what is done (exit 130). ``--json`` prints the plan, every point and
the verdict as one JSON object at the end.

Executors: a local process pool (``--workers``, default one per core; on a GPU machine every task
runs on the GPU) or Ray (``--ray auto`` starts a local instance, ``--ray ray://host:port`` joins a
cluster).
"""

from __future__ import annotations

import argparse
import dataclasses
import signal
import sys
import threading
from typing import TYPE_CHECKING, Any

from explorer.cli.base import UsageError, print_json

if TYPE_CHECKING:
    import torch


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "query", metavar="QUERY", help="the base network, e.g. 'family=plain&depth=4&width=8&resolution=32'"
    )
    for name, what in (("alpha", "depth"), ("beta", "width"), ("gamma", "resolution")):
        parser.add_argument(
            f"--{name}", default="1.0:1.4:0.1", help=f"{what} grid, START:STOP:STEP or a list (default 1.0:1.4:0.1)"
        )
    parser.add_argument(
        "--tolerance", type=float, default=0.1, help="keep |alpha·beta²·gamma² - 2| <= this (default 0.1)"
    )
    parser.add_argument("--steps", type=int, default=60, help="training steps per run (default 60)")
    parser.add_argument("--seeds", type=int, default=2, help="seeds per point, 0..K-1 (default 2)")
    parser.add_argument("--batch", type=int, default=32, help="training batch (default 32)")
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam's learning rate (default 0.001)")
    parser.add_argument("--schedule", choices=["constant", "cosine"], default="constant", help="learning-rate schedule")
    parser.add_argument("--upright", action="store_true", help="upright shapes (default: randomly rotated)")
    parser.add_argument(
        "--scale", default=None, metavar="LOW:HIGH", help="shape radius range, fraction of half the side"
    )
    parser.add_argument("--held-out", type=int, default=128, help="held-out images per accuracy (default 128)")
    parser.add_argument(
        "--settle",
        type=int,
        default=None,
        metavar="N",
        help="then train the networks the verdict rests on (winner, runner-up, best compound point, baselines) "
        "with more seeds, up to N each (max 20)",
    )
    parser.add_argument(
        "--record",
        metavar="TITLE",
        default=None,
        help="also write a recorded run's card.json and data.json into --out (e.g. assets/runs/NAME)",
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, default=None, help="local processes (default: one per core)")
    where.add_argument("--ray", metavar="ADDRESS", default=None, help="auto (a local Ray instance) or ray://host:port")
    parser.add_argument("--out", required=True, metavar="DIR", help="results directory (results.jsonl, search.json)")
    parser.add_argument("--json", action="store_true", help="print one JSON object at the end instead of a table")


def _spec(args: argparse.Namespace) -> Any:
    from explorer.analysis.search import SEARCH, SearchSpec, parse_axis
    from explorer.config import parse_query

    config = parse_query(args.query)  # a bad query is a usage error before anything starts
    return SearchSpec(
        query=config.query,
        alphas=parse_axis(args.alpha, "alpha"),
        betas=parse_axis(args.beta, "beta"),
        gammas=parse_axis(args.gamma, "gamma"),
        tolerance=args.tolerance,
        seeds=args.seeds,
        settings=dataclasses.replace(
            SEARCH,
            steps=args.steps,
            batch=args.batch,
            lr=args.lr,
            rotate=not args.upright,
            scale=_scale(args.scale),
            held_out=args.held_out,
            schedule=args.schedule,
        ),
    )


def _scale(text: str | None) -> tuple[float, float] | None:
    if text is None:
        return None
    try:
        low, high = (float(v) for v in text.split(":"))
    except ValueError:
        raise UsageError(f"--scale '{text}'; allowed: LOW:HIGH, e.g. 0.3:0.6") from None
    if not 0 < low <= high <= 1:
        raise UsageError(f"--scale '{text}'; allowed: 0 < LOW <= HIGH <= 1")
    return (low, high)


def _line(result: Any, done: int, total: int) -> None:
    point = result.point
    if result.ok:
        text = f"{result.accuracy:6.1%} ± {result.spread:5.1%}  {result.train_seconds:6.2f} s"
    else:
        text = f"failed: {result.errors[0]}"
    print(f"[{done}/{total}] {point.label:<36} {point.macs / 1e6:8.3f} M MACs  {text}", file=sys.stderr, flush=True)


def _earlier_wall_seconds(out: Any, spec: Any) -> float:
    """The wall time of the runs before this one that made ``out``'s results (its card's, when the card
    records this very search), so a resumed or settled recording states what the whole took."""
    from pathlib import Path

    from explorer.analysis.runs import RunError, read_run

    try:
        card = read_run(Path(out)).card
    except (OSError, RunError):
        return 0.0
    same = {k: v for k, v in card.get("settings", {}).items() if k in spec.to_dict()} == spec.to_dict()
    return float(card.get("wall_s", 0.0)) if same else 0.0


def _record(args: argparse.Namespace, spec: Any, result: Any, judged: Any, device: torch.device) -> None:
    """The finished search as a recorded run (see :mod:`explorer.analysis.runs`) in ``--out``; ``result``'s
    wall time is this run's (grid and settling) plus the earlier runs' on the same results."""
    import os
    import shlex
    from pathlib import Path

    import torch

    from explorer.analysis.runs import write_run
    from explorer.analysis.search import settled_networks
    from explorer.cli.record import cpu_name
    from explorer.views.search_text import verdict_sentence

    argv = sys.argv[1:] if sys.argv and sys.argv[0].endswith("__main__.py") else []
    card = {
        "title": args.record,
        "kind": "search",
        "command": "python -m explorer " + shlex.join(argv) if argv else "python -m explorer search ...",
        "seeds": list(range(spec.seeds)),
        "settled": {query: len(r.accuracies) for query, r in settled_networks(result.results, spec.seeds).items()},
        "settings": spec.to_dict()
        | {name: getattr(spec.settings, name) for name in ("rotate", "scale", "held_out", "schedule")},
        "device": device.type,
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else cpu_name(),
        "executor": result.executor,
        "torch": torch.__version__,
        "wall_s": round(result.wall_seconds + _earlier_wall_seconds(args.out, spec), 1),
        "load": [round(v, 2) for v in os.getloadavg()],
        "verdict": verdict_sentence(judged),
    }
    data = {"spec": spec.to_dict(), "points": [r.to_json() for r in result.results]}
    write_run(Path(args.out), card, data)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run(args: argparse.Namespace, device: torch.device) -> int:
    from explorer.analysis.search import MAX_SEEDS, make_executor, plan, run_search, settle, verdict
    from explorer.views.search_text import verdict_sentence

    if args.workers is not None and args.workers < 1:
        raise UsageError(f"--workers {args.workers}; allowed: 1 or more")
    spec = _spec(args)
    if args.settle is not None and not spec.seeds <= args.settle <= MAX_SEEDS:
        raise UsageError(f"--settle {args.settle}; allowed: {spec.seeds} (--seeds) to {MAX_SEEDS}")
    points = plan(spec)
    # A kill (SIGTERM) stops like Ctrl-C: the pool's workers are ended, not left orphaned.
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _interrupt) if main else None
    executor = make_executor(args.workers, args.ray, device.type)
    try:
        if not args.json:
            print(f"{len(points)} points x {spec.seeds} seeds on {executor.description}", file=sys.stderr, flush=True)
        result = run_search(spec, args.out, executor, points=points, progress=None if args.json else _line)
        if args.settle is not None and not result.cancelled:
            if not args.json:
                print(f"settling with up to {args.settle} seeds", file=sys.stderr, flush=True)
            settled = settle(
                spec, args.out, executor, args.settle, points=points, progress=None if args.json else _line
            )
            result.results = settled.results
            result.settled = settled.trained
            result.wall_seconds += settled.wall_seconds
    finally:
        executor.close()
        if main:
            signal.signal(signal.SIGTERM, previous)
    judged = verdict(result.results)
    if args.record is not None:
        _record(args, spec, result, judged, device)
    if args.json:
        print_json(
            {
                "spec": spec.to_dict(),
                "out": str(args.out),
                "executor": result.executor,
                "trained": result.trained,
                "skipped": result.skipped,
                "settled": result.settled,
                "wall_seconds": result.wall_seconds,
                "points": [r.to_json() for r in result.results],
                "verdict": verdict_sentence(judged),
            }
        )
    else:
        settled_note = f", settled {result.settled}" if args.settle is not None else ""
        print(
            f"trained {result.trained}, skipped {result.skipped} (already in {args.out}){settled_note}, "
            f"{result.wall_seconds:.1f} s"
        )
        print(verdict_sentence(judged))
    return 0
