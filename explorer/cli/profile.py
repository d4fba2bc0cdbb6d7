"""``python -m explorer profile QUERY [QUERY ...] [--json] [--batch B]``: parameters, MACs, layers.

Contract (other tools rely on it): ``--json`` prints a JSON array with ``query`` (canonical),
``family``, ``params``, ``macs``, ``resolution`` and ``layers`` for each query, ``memory``: the
forward-pass estimate at ``--batch`` against the device's budget, and ``training_bytes``: the bytes
autograd saves for the backward pass of one training step at ``training_batch`` (``--batch``, or 2
where batch 1 cannot train; meta device, each storage once; see :mod:`explorer.measure.memory`), and
``notes``: why a figure is at another batch or not available (null). Imports only what profiling needs
(no captum, plotly or pandas), so the command starts fast.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from explorer.cli.base import UsageError, print_json
from explorer.formatting import human_bytes, human_count, shape_text

if TYPE_CHECKING:
    import torch


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("queries", nargs="+", metavar="QUERY", help="e.g. preset=resnet50 or 'family=densenet&k=12'")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--batch", type=int, default=1, help="batch size for the memory estimate")


def _record(query: str, device: torch.device, batch: int) -> dict[str, Any]:
    from explorer.config import parse_query
    from explorer.measure.memory import training_memory_or_smallest_batch
    from explorer.measure.profile import profile
    from explorer.runtime.guard import budget_bytes, estimate

    config = parse_query(query)
    result = profile(config)
    record = result.to_dict()
    need = estimate(result, batch=batch).total_bytes
    budget = budget_bytes(device)
    record["memory"] = {
        "device": device.type,
        "batch": batch,
        "forward_bytes": need,
        "budget_bytes": budget,
        "fits": need <= budget,
        "training_total_bytes": estimate(result, batch=batch, training=True, config=config).total_bytes,
    }
    notes = []
    try:
        training = training_memory_or_smallest_batch(config, batch)
        record["training_bytes"], record["training_batch"] = training.saved_bytes, training.batch
        if training.note:
            notes.append(f"training_bytes {training.note}")
    except ValueError as error:  # a figure that cannot be computed is not available, the profile stands
        record["training_bytes"], record["training_batch"] = None, None
        notes.append(f"training_bytes not available: {error}")
    record["notes"] = notes
    return record


def _print_table(record: dict[str, Any]) -> None:
    print(f"{record['query']}  ({record['family']}, {record['resolution']} px)")
    print(
        f"  params {record['params']:,}   MACs {record['macs']:,} ({human_count(record['macs'])})   "
        f"FLOPs {human_count(record['flops'])}   weights {human_bytes(record['weight_bytes'])}   "
        f"activations {human_bytes(record['activation_bytes'])}"
    )
    for note in record["notes"]:
        print(f"  note: {note}")
    header = f"  {'layer':<40} {'type':<22} {'stage':<8} {'output':<16} {'params':>12} {'MACs':>15}"
    print(header)
    print("  " + "-" * (len(header) - 2))
    for row in record["layers"]:
        print(
            f"  {row['name'][:40]:<40} {row['type'][:22]:<22} {row['stage']:<8} "
            f"{shape_text(row['output_shape']):<16} {row['params']:>12,} {row['macs']:>15,}"
        )
    print()


def run(args: argparse.Namespace, device: torch.device) -> int:
    if args.batch < 1:
        raise UsageError("--batch must be at least 1")
    records = [_record(q, device, args.batch) for q in args.queries]
    if args.json:
        print_json(records)
    else:
        for record in records:
            _print_table(record)
    return 0
