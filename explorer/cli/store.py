"""``python -m explorer store [--out PATH]``: recompute the stored profiles of every preset.

Writes ``assets/profiles/presets.json.gz`` (see :mod:`explorer.analysis.stored`): each preset's
profile and its training memory at batch 1, with the torch and torchvision versions that computed
them. Run it after changing a family, a preset, the counting or the pinned torch; the tests
recompute the store and fail when it is stale.
"""

from __future__ import annotations

import argparse
import gzip
import json
from pathlib import Path
from typing import TYPE_CHECKING

from explorer.analysis.stored import STORE
from explorer.cli.base import UsageError

if TYPE_CHECKING:
    import torch


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, default=STORE, help=f"where to write (default {STORE})")


def preset_queries() -> list[str]:
    from explorer.config import parse_query
    from explorer.families import PRESETS

    return sorted({parse_query(f"preset={name}").query for name in PRESETS})


def run(args: argparse.Namespace, device: torch.device) -> int:
    from explorer.analysis.stored import store_data

    try:  # a folder that cannot be made fails now, not after half a minute of profiling
        args.out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageError(f"cannot write {args.out}: {error.strerror or error}") from error
    data = store_data(preset_queries())
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    try:
        with open(args.out, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as file:  # same bytes
            file.write(text.encode())
    except OSError as error:
        raise UsageError(f"cannot write {args.out}: {error.strerror or error}") from error
    print(f"{len(data['profiles'])} presets -> {args.out} ({args.out.stat().st_size / 1e3:.0f} kB)")
    return 0
