"""``python -m explorer models [--json]``: the shipped models of ``assets/models`` and their cards."""

from __future__ import annotations

import argparse

import torch

from explorer.cli.base import print_json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="every card as JSON (name, query, card fields)")


def run(args: argparse.Namespace, device: torch.device) -> int:
    from explorer.runtime.shipped import shipped_models

    models = shipped_models()
    if args.json:
        print_json([m.summary() for m in models])
        return 0
    for m in models:
        held = m.card["held_out"]
        print(
            f"{m.name:28} {m.query:60} accuracy {held['accuracy']:.1%}  pointing {held['pointing_game']:.1%}  "
            f"{m.card['bytes'] / 1e6:.2f} MB"
        )
    return 0
