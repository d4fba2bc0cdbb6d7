"""``python -m explorer models [--json]``: the shipped models of ``assets/models`` and their cards, then
the ImageNet models whose weights come inside an installed package (``assets/models/imagenet``)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from explorer.cli.base import print_json

if TYPE_CHECKING:
    import torch


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="every card as JSON (name, query, card fields)")


def run(args: argparse.Namespace, device: torch.device) -> int:
    from explorer.runtime.packaged import packaged_models
    from explorer.runtime.shipped import shipped_models

    models, packaged = shipped_models(), packaged_models()
    if args.json:
        print_json(
            [m.summary() | {"kind": "shipped"} for m in models] + [p.summary() | {"kind": "packaged"} for p in packaged]
        )
        return 0
    for m in models:
        held = m.card["held_out"]
        print(
            f"{m.name:28} {m.query:60} accuracy {held['accuracy']:.1%}  pointing {held['pointing_game']:.1%}  "
            f"{m.card['bytes'] / 1e6:.2f} MB"
        )
    for p in packaged:
        where = f"installed ({p.installed_version()})" if p.available else "not installed"
        print(
            f"{p.name:28} {p.query:60} ImageNet {p.card['published']['top1']}% top-1 (published)  "
            f"{p.card['bytes'] / 1e6:.2f} MB  package {p.card['package']}: {where}"
        )
    return 0
