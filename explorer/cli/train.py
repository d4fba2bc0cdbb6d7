"""``python -m explorer train QUERY --steps N --out DIR``: train on the shapes data set, write weights and a card.

Writes ``DIR/<name>.pt`` (the state dict, ``torch.save``) and ``DIR/<name>.json``, the card: what
was trained (query, shapes version, side, classes), how (the exact command line that reproduces it,
steps, batch, learning rate and schedule, seed, device, threads, torch version), what it measured
(wall time; accuracy and the Grad-CAM pointing game on ``--held-out`` images of another seed) and
the weights' sha256 and size. Training is :func:`explorer.analysis.training.train_on_shapes` (Adam,
weights drawn from the seed on a forked RNG), so a seed gives the same weights on one device.

A progress bar goes to stderr; ``--json`` prints the card on stdout.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import shlex
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from explorer.cli.base import UsageError, print_json

if TYPE_CHECKING:
    import torch

    from explorer.knobs import ModelConfig
    from explorer.runtime.shipped import ShippedModel

#: The licence of everything the command writes: the project's own generated data and weights.
LICENCE = "CC0-1.0 (weights trained by this project on its own procedurally generated shapes data)"
#: Images of the held-out seed measured by default (the card's accuracy and pointing game).
HELD_OUT = 2000
#: The held-out images come from this seed offset (training draws from ``seed`` itself).
HELD_OUT_SEED_OFFSET = 1_000_003


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("query", metavar="QUERY", help="e.g. preset=resnet20 (trained with one output per shape)")
    parser.add_argument("--steps", type=int, required=True, help="Adam steps")
    parser.add_argument("--out", required=True, help="folder for <name>.pt and <name>.json (created if missing)")
    parser.add_argument("--seed", type=int, default=0, help="weights and training images (default 0)")
    parser.add_argument("--batch", type=int, default=32, help="images per step (default 32)")
    parser.add_argument("--lr", type=float, default=2e-3, help="Adam learning rate (default 0.002)")
    parser.add_argument(
        "--schedule",
        choices=("constant", "cosine"),
        default="cosine",
        help="learning rate over the run (default cosine)",
    )
    parser.add_argument(
        "--resolution",
        type=int,
        help="image side in px (default: the shapes version's, 64, or the --from model's; "
        "at most the config's unless --from)",
    )
    parser.add_argument(
        "--from",
        dest="start",
        metavar="WEIGHTS",
        help="start from these weights (a .pt that train wrote, its card beside it) instead of a fresh "
        "init, e.g. to refine a model at a larger --resolution; the new card carries the whole recipe",
    )
    parser.add_argument("--name", help="file name stem (default: from the query, e.g. resnet20)")
    parser.add_argument(
        "--held-out", type=int, default=HELD_OUT, help=f"images measured after training (default {HELD_OUT})"
    )
    parser.add_argument(
        "--threads",
        type=int,
        help="torch intra-op threads (default: 1 on a machine with 2 cores or fewer, else torch's)",
    )
    parser.add_argument("--json", action="store_true", help="print the card as JSON")


def default_name(query: str) -> str:
    """A file-name stem from a query: ``preset=resnet20`` -> ``resnet20``,
    ``family=plain&depth=8&deform=on`` -> ``plain-depth8-deformon``."""
    parts = []
    for item in query.split("&"):
        key, _, value = item.partition("=")
        parts.append(value if key in ("preset", "family") else f"{key}{value}")
    return re.sub(r"[^A-Za-z0-9_.-]+", "", "-".join(parts)) or "model"


def thread_count(asked: int | None) -> int:
    """The thread policy of bench/README.md: one intra-op thread on 2 cores or fewer (a second one
    spins against the other core's work), torch's own choice elsewhere."""
    import torch

    if asked is not None:
        if asked < 1:
            raise UsageError(f"--threads {asked}; allowed: 1 or more")
        return asked
    return 1 if (os.cpu_count() or 1) <= 2 else torch.get_num_threads()


class ProgressBar:
    """``[#####.....] step 40/100 loss 0.812 12 s`` on stderr: redrawn in place on a terminal,
    one line per tenth of the run otherwise (logs stay short)."""

    def __init__(self, steps: int, width: int = 30) -> None:
        self.steps, self.width = steps, width
        self.tty = sys.stderr.isatty()
        self.shown = -1

    def __call__(self, record: Any) -> None:
        tenth = record.step * 10 // self.steps
        if not self.tty and tenth == self.shown and record.step != self.steps:
            return
        self.shown = tenth
        filled = record.step * self.width // self.steps
        line = (
            f"[{'#' * filled}{'.' * (self.width - filled)}] step {record.step}/{self.steps} "
            f"loss {record.loss:.3f} {record.elapsed_s:.0f} s"
        )
        sys.stderr.write(("\r" + line) if self.tty else (line + "\n"))
        if self.tty and record.step == self.steps:
            sys.stderr.write("\n")
        sys.stderr.flush()


def command_line(args: argparse.Namespace, device: torch.device, name: str, threads: int) -> str:
    """The complete command that reproduces this run (every choice spelled out)."""
    words = ["python", "-m", "explorer", "--device", device.type, "train", args.query]
    words += ["--steps", str(args.steps), "--seed", str(args.seed), "--batch", str(args.batch)]
    words += ["--lr", repr(args.lr), "--schedule", args.schedule, "--held-out", str(args.held_out)]
    if args.resolution is not None:
        words += ["--resolution", str(args.resolution)]
    if args.start is not None:
        words += ["--from", args.start]
    words += ["--threads", str(threads), "--name", name, "--out", args.out]
    return shlex.join(words)


def read_start(path: str, config: ModelConfig, resolution: int | None) -> ShippedModel:
    """The model ``--from`` names, as a :class:`~explorer.runtime.shipped.ShippedModel`: a ``.pt``
    with the card ``train`` wrote beside it, of the same architecture as this run's."""
    from explorer.analysis.training import shapes_config
    from explorer.runtime.shipped import ShippedModel, same_architecture

    weights = Path(path)
    card_path = weights.with_suffix(".json")
    if weights.suffix != ".pt" or not weights.is_file() or not card_path.is_file():
        raise UsageError(f"--from '{path}': give a .pt that train wrote, with its .json card beside it")
    try:
        start = ShippedModel(weights.stem, json.loads(card_path.read_text()), weights)
        if not same_architecture(shapes_config(config, resolution), start.config):
            raise UsageError(f"--from '{path}' is a {start.query} (another architecture than this query's)")
    except (KeyError, TypeError, json.JSONDecodeError) as exc:
        raise UsageError(f"--from '{path}': its card {card_path.name} is not a train card ({exc})") from exc
    return start


def started_from(start: ShippedModel) -> dict[str, Any]:
    """What the card says of the model a run started from (its own card's figures, its whole recipe)."""
    card = start.card
    return {
        "name": start.name,
        "query": start.query,
        "resolution": card["resolution"],
        "sha256": card["sha256"],
        "steps": start.total_steps,
        "wall_s": card.get("recipe_wall_s", card["wall_s"]),
        "held_out": card["held_out"],
        "command": card["command"],
    }


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run(args: argparse.Namespace, device: torch.device) -> int:
    import torch

    from explorer.analysis.saliency import POINTING_RULE
    from explorer.analysis.training import TrainSpec, shapes_scores, shapes_settings, shapes_source, train_on_shapes
    from explorer.config import parse_query
    from explorer.data.shapes import CLASSES, DEFAULT_VERSION
    from explorer.runtime.shipped import card_goals, load_shipped

    if args.steps < 1:
        raise UsageError(f"--steps {args.steps}; allowed: 1 or more")
    if args.batch < 2:
        raise UsageError(f"--batch {args.batch}; allowed: 2 or more (batch norm needs batch statistics)")
    if args.held_out < 1:
        raise UsageError(f"--held-out {args.held_out}; allowed: 1 or more")
    if args.resolution is not None and args.resolution < 8:
        raise UsageError(f"--resolution {args.resolution}; allowed: 8 or more")
    name = args.name or default_name(args.query)
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name) or name.startswith("."):
        raise UsageError(f"--name '{name}'; allowed: letters, digits, '.', '_' and '-'")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out '{args.out}' exists and is not a folder")
    config = parse_query(args.query)
    start_card = read_start(args.start, config, args.resolution) if args.start is not None else None
    threads = thread_count(args.threads)
    torch.set_num_threads(threads)
    start_model = load_shipped(start_card, device) if start_card is not None else None

    start = time.perf_counter()
    # held_out=0: the card's accuracy is measured below, with the pointing game, on another seed
    settings = shapes_settings(
        steps=args.steps, seed=args.seed, batch=args.batch, lr=args.lr, schedule=args.schedule, held_out=0
    )
    spec = TrainSpec(
        model=shapes_source(config, args.resolution, start_model),
        settings=settings,
        device=device,
        callbacks=(ProgressBar(args.steps),),
    )
    run_ = train_on_shapes(spec)
    train_s = time.perf_counter() - start
    built = run_.model.built
    scores = shapes_scores(built, seed=args.seed + HELD_OUT_SEED_OFFSET, n=args.held_out)

    out.mkdir(parents=True, exist_ok=True)
    weights = out / f"{name}.pt"
    state = {key: value.detach().cpu() for key, value in built.module.state_dict().items()}
    torch.save(state, weights)
    import torchvision

    card: dict[str, Any] = {
        "name": name,
        "query": built.config.query,
        "trained_query": args.query,
        "family": built.config.family,
        "shapes_version": DEFAULT_VERSION,
        "resolution": built.config.input_resolution,
        "classes": list(CLASSES),
        "steps": run_.steps,
        "batch": args.batch,
        "optimizer": "adam",
        "lr": args.lr,
        "schedule": args.schedule,
        "seed": args.seed,
        "device": device.type,
        "threads": threads,
        "wall_s": round(train_s, 1),
        "final_loss": run_.losses[-1],
        "held_out": {
            "seed": scores.seed,
            "n": scores.n,
            "accuracy": scores.accuracy,
            "pointing_game": scores.pointing,
            "pointing_rule": POINTING_RULE,
        },
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "python": platform.python_version(),
        "sha256": sha256_of(weights),
        "bytes": weights.stat().st_size,
        "weights_file": weights.name,
        "command": command_line(args, device, name, threads),
        "licence": LICENCE,
        "goals": card_goals(scores.accuracy, scores.pointing),
    }
    if start_card is not None:
        # the whole recipe: the start's own command (which wrote the file --from reads) and then this one
        parent = started_from(start_card)
        card["started_from"] = parent
        card["total_steps"] = parent["steps"] + run_.steps
        card["recipe_wall_s"] = round(parent["wall_s"] + train_s, 1)
        card["command"] = f"{parent['command']} && {card['command']}"
    (out / f"{name}.json").write_text(json.dumps(card, indent=2) + "\n")
    if args.json:
        print_json(card)
    else:
        print(
            f"{weights}: accuracy {scores.accuracy:.1%}, pointing game {scores.pointing:.1%} "
            f"on {scores.n} held-out images, {train_s:.0f} s"
        )
    return 0
