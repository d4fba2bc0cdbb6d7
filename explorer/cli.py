"""``python -m explorer``: the library's analyses on the command line, JSON out.

Contract (other tools rely on it): ``profile QUERY [QUERY ...] --json`` prints a JSON array with
``query`` (canonical), ``family``, ``params``, ``macs``, ``resolution`` and ``layers`` for each query.
Any bad input exits with code 2 and one line on stderr that starts with ``error:``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from explorer.formatting import human_bytes, human_count, shape_text


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, not argparse's usage dump
        raise UsageError(message)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m explorer", description="CNN Architecture Explorer: analyses from the command line."
    )
    parser.add_argument("--device", default="auto", help="auto (CUDA, then MPS, then CPU), cuda, mps or cpu")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    prof = commands.add_parser("profile", help="parameters, MACs and per-layer breakdown of configs")
    prof.add_argument("queries", nargs="+", metavar="QUERY", help="e.g. preset=resnet50 or 'family=densenet&k=12'")
    prof.add_argument("--json", action="store_true", help="print JSON instead of a table")
    prof.add_argument("--batch", type=int, default=1, help="batch size for the memory estimate")
    keys = commands.add_parser("keys", help="the config language: every family, key and preset")
    keys.add_argument("--markdown", action="store_true", help="Markdown tables (as in the README)")
    return parser


def _profile_record(query: str, device: Any, batch: int) -> dict[str, Any]:
    from explorer.analysis.profile import profile
    from explorer.config import parse_query
    from explorer.guard import budget_bytes, estimate

    result = profile(parse_query(query))
    record = result.to_dict()
    need = estimate(result, batch=batch).total_bytes
    record["memory"] = {
        "device": device.type,
        "batch": batch,
        "forward_bytes": need,
        "budget_bytes": budget_bytes(device),
        "fits": need <= budget_bytes(device),
    }
    return record


def _print_table(record: dict[str, Any]) -> None:
    print(f"{record['query']}  ({record['family']}, {record['resolution']} px)")
    print(
        f"  params {record['params']:,}   MACs {record['macs']:,} ({human_count(record['macs'])})   "
        f"FLOPs {human_count(record['flops'])}   weights {human_bytes(record['weight_bytes'])}   "
        f"activations {human_bytes(record['activation_bytes'])}"
    )
    header = f"  {'layer':<40} {'type':<22} {'stage':<8} {'output':<16} {'params':>12} {'MACs':>15}"
    print(header)
    print("  " + "-" * (len(header) - 2))
    for row in record["layers"]:
        print(
            f"  {row['name'][:40]:<40} {row['type'][:22]:<22} {row['stage']:<8} "
            f"{shape_text(row['output_shape']):<16} {row['params']:>12,} {row['macs']:>15,}"
        )
    print()


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
        from explorer.device import best_device

        device = best_device(args.device)
        if args.command == "profile":
            if args.batch < 1:
                raise UsageError("--batch must be at least 1")
            records = [_profile_record(q, device, args.batch) for q in args.queries]
            if args.json:
                json.dump(records, sys.stdout)
                sys.stdout.write("\n")
            else:
                for record in records:
                    _print_table(record)
        elif args.command == "keys":
            from explorer.keys import describe_families, markdown_table

            print(markdown_table() if args.markdown else json.dumps(describe_families(), indent=1))
        return 0
    except (UsageError, ValueError) as exc:
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head`: nothing more to say
        return 0
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        print(f"error: internal error ({type(exc).__name__}): {_one_line(exc)}", file=sys.stderr)
        return 1


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
