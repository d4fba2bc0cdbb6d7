"""``python -m explorer signal QUERY --json``: activation std and gradient norm per conv/linear layer.

JSON: ``{"query", "batch", "seed", "resolution", "training", "loss", "points": [...], "stages": [...],
"problems": [...]}``; one point per conv/linear layer in depth order with ``depth``, ``name``,
``type``, ``stage``, ``block``, ``activation_std``, ``activation_mean``, ``grad_norm`` and
``weight_grad_norm`` (null unless ``--weight-grads``). JSON has no NaN or infinity: such values are
written as the strings ``"nan"``, ``"inf"`` and ``"-inf"`` (``float()`` reads them back), and
``problems`` says where they start (e.g. "activations overflow at layer 412 (...)").
With ``--steps N`` the model first trains N steps on the shapes data set (``train`` lists the loss
per step) and the points describe the trained model.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from explorer.cli.base import UsageError, print_json

if TYPE_CHECKING:
    import torch


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("query", metavar="QUERY", help="e.g. 'family=plain&depth=30&bn=off&skip=on'")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights and of the images (default 0)")
    parser.add_argument("--batch", type=int, default=4, help="images per pass (default 4; at least 2)")
    parser.add_argument("--steps", type=int, default=0, help="training steps before measuring (default 0)")
    parser.add_argument("--resolution", type=int, default=None, help="input side (default: the config's)")
    parser.add_argument("--optimizer", choices=("sgd", "adam"), default="sgd", help="for --steps (default sgd)")
    parser.add_argument("--lr", type=float, default=0.01, help="learning rate for --steps (default 0.01)")
    parser.add_argument("--weight-grads", action="store_true", help="also the norm of each layer's weight gradient")
    parser.add_argument("--eval", action="store_true", help="eval mode (BN uses running statistics)")
    parser.add_argument(
        "--bf16", action="store_true", help="train (--steps) under bfloat16 autocast (default: float32)"
    )


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.3e}"


def run(args: argparse.Namespace, device: torch.device) -> int:
    from explorer.analysis.signal import signal
    from explorer.analysis.training import Owned, TrainSettings, TrainSpec, train
    from explorer.config import parse_query
    from explorer.measure.profile import profile
    from explorer.runtime.guard import check_fits
    from explorer.runtime.models import build_seeded

    if args.batch < 2:
        raise UsageError("--batch must be at least 2 (batch norm needs batch statistics)")
    if args.steps < 0:
        raise UsageError("--steps must be 0 or more")
    if args.resolution is not None and args.resolution < 1:
        raise UsageError("--resolution must be at least 1")
    config = parse_query(args.query)
    check_fits(profile(config), device, batch=args.batch, training=True, config=config)
    built = build_seeded(config, args.seed, device)
    history = []
    if args.steps:
        settings = TrainSettings(
            optimizer=args.optimizer,
            lr=args.lr,
            steps=args.steps,
            batch=args.batch,
            seed=args.seed,
            record_every=args.steps,
            resolution=args.resolution,
            autocast=args.bf16,
        )
        for record in train(TrainSpec(model=Owned(built), settings=settings, device=device)):
            history.append({"step": record.step, "loss": record.loss, "accuracy": record.accuracy})
    result = signal(
        config,
        built,
        batch=args.batch,
        seed=args.seed,
        resolution=args.resolution,
        training=not args.eval,
        weight_grads=args.weight_grads,
    )
    data = result.to_dict()
    if args.steps:
        from explorer.analysis.signal import json_safe

        data["train"] = json_safe(history)
    if args.json:
        print_json(data)
        return 0
    print(
        f"{data['query']}  ({result.resolution} px, batch {result.batch}, seed {result.seed}, loss {result.loss:.4g})"
    )
    print(f"  {'depth':>5} {'layer':<36} {'stage':<8} {'act std':>10} {'grad norm':>10} {'w-grad':>10}")
    for p in result.points:
        print(
            f"  {p.depth:>5} {p.name[:36]:<36} {p.stage:<8} {_number(p.activation_std):>10} "
            f"{_number(p.grad_norm):>10} {_number(p.weight_grad_norm):>10}"
        )
    for problem in result.problems:
        print(f"  ! {problem.message}")
    return 0
