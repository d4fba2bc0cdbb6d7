"""``python -m explorer export QUERY --format code|onnx|pt2 --out FILE [--weights W] [--json]``.

Writes the design's model as a standalone Python file (``code``: only torch and torchvision needed),
an ONNX file (``onnx``) or a ``torch.export`` program (``pt2``), and checks it: the code in a fresh
interpreter where ``explorer`` cannot be imported (parameters, state-dict keys and shapes, a strict
load, outputs within 1e-5), ONNX with onnxruntime (within 1e-4), the ``.pt2`` by loading it back.
``--weights``: a state dict (``.pt``, e.g. from ``train``) or a shipped model's name; it must fit
the design exactly. With ``code`` the weights are written next to the file (``FILE`` with ``.pt``),
and ``build_model("FILE.pt")`` loads them.

Contract: ``--json`` prints ``query``, ``format``, ``how`` (how the model is written), ``files``
(``path`` and ``bytes`` of each file written) and ``checks``. A failed check exits 1 after
printing; bad arguments exit 2 with one ``error:`` line.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from explorer.cli.base import UsageError, print_json

if TYPE_CHECKING:
    import torch

FORMATS = ("code", "onnx", "pt2")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("query", metavar="QUERY", help="e.g. preset=resnet50 or 'family=efficientnet&phi=3&beta=1.2'")
    parser.add_argument("--format", choices=FORMATS, required=True, help="code (.py), onnx or pt2 (torch.export)")
    parser.add_argument("--out", required=True, metavar="FILE", help="the file to write")
    parser.add_argument("--weights", metavar="FILE", help="a state dict (.pt) or a shipped model's name to include")
    parser.add_argument("--no-check", action="store_true", help="write without checking the file")
    parser.add_argument("--json", action="store_true", help="print what was written, its size and checks as JSON")


def run(args: argparse.Namespace, device: torch.device) -> int:
    from explorer.config import parse_query
    from explorer.export.formats import export, load_weights, write

    config = parse_query(args.query)
    out = Path(args.out)
    if out.is_dir():
        raise UsageError(f"--out {args.out} is a folder; give a file name")
    weights = load_weights(config, args.weights) if args.weights else None
    exported = export(config, args.format, weights, check=not args.no_check)
    record: dict[str, Any] = exported.summary() | {"files": write(exported, out)}
    if args.json:
        print_json(record)
    else:
        sizes = ", ".join(f"{f['path']} ({f['bytes']:,} bytes)" for f in record["files"])
        print(f"wrote {sizes}: {record['query']} as {record['how']}")
        for name, check in record["checks"].items():
            print(f"  {name}: {check}")
    if not exported.passed:
        print(f"error: the written file failed its check: {record['checks']}", file=sys.stderr)
        return 1
    return 0
