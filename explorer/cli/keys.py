"""``python -m explorer keys [--markdown]``: the config language, every family, key and preset."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--markdown", action="store_true", help="Markdown tables (as in the README)")


def run(args: argparse.Namespace, device: torch.device) -> int:
    from explorer.keys import describe_families, markdown_table

    print(markdown_table() if args.markdown else json.dumps(describe_families(), indent=1))
    return 0
