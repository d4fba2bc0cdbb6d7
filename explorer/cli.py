"""``python -m explorer``: the library's analyses on the command line, JSON out.

Contract (other tools rely on it): ``profile QUERY [QUERY ...] --json`` prints a JSON array with
``query`` (canonical), ``family``, ``params``, ``macs``, ``resolution`` and ``layers`` for each query.
Any bad input exits with code 2 and one line on stderr that starts with ``error:``.

Subcommands are registered with :func:`command`; each lives beside the analysis it runs
(``explorer/commands/*.py``), so adding one touches no other command.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

import torch

from explorer.formatting import human_bytes, human_count, shape_text


class UsageError(Exception):
    """Bad command-line input (exit code 2)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, not argparse's usage dump
        raise UsageError(message)


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace, torch.device], int | None]


COMMANDS: dict[str, Command] = {}


def command(
    name: str, help: str, add_arguments: Callable[[argparse.ArgumentParser], None]
) -> Callable[[Callable[[argparse.Namespace, torch.device], int | None]], Command]:
    """Register ``run(args, device)`` as ``python -m explorer NAME``."""

    def register(run: Callable[[argparse.Namespace, torch.device], int | None]) -> Command:
        COMMANDS[name] = Command(name, help, add_arguments, run)
        return COMMANDS[name]

    return register


def _parser() -> argparse.ArgumentParser:
    import explorer.commands  # noqa: F401  (registers the subcommands)

    parser = _Parser(prog="python -m explorer", description="CNN Architecture Explorer from the command line.")
    parser.add_argument("--device", default="auto", help="auto (CUDA, then MPS, then CPU), cuda, mps or cpu")
    subparsers = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for cmd in COMMANDS.values():
        cmd.add_arguments(subparsers.add_parser(cmd.name, help=cmd.help))
    return parser


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout)
    sys.stdout.write("\n")


# -- profile -----------------------------------------------------------------------------------
def _profile_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("queries", nargs="+", metavar="QUERY", help="e.g. preset=resnet50 or 'family=densenet&k=12'")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--batch", type=int, default=1, help="batch size for the memory estimate")


def _profile_record(query: str, device: torch.device, batch: int) -> dict[str, Any]:
    from explorer.analysis.profile import profile
    from explorer.config import parse_query
    from explorer.guard import budget_bytes, estimate

    result = profile(parse_query(query))
    record = result.to_dict()
    need = estimate(result, batch=batch).total_bytes
    budget = budget_bytes(device)
    record["memory"] = {
        "device": device.type,
        "batch": batch,
        "forward_bytes": need,
        "budget_bytes": budget,
        "fits": need <= budget,
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


@command("profile", "parameters, MACs and per-layer breakdown of configs", _profile_arguments)
def _profile(args: argparse.Namespace, device: torch.device) -> int:
    if args.batch < 1:
        raise UsageError("--batch must be at least 1")
    records = [_profile_record(q, device, args.batch) for q in args.queries]
    if args.json:
        print_json(records)
    else:
        for record in records:
            _print_table(record)
    return 0


# -- keys --------------------------------------------------------------------------------------
def _keys_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--markdown", action="store_true", help="Markdown tables (as in the README)")


@command("keys", "the config language: every family, key and preset", _keys_arguments)
def _keys(args: argparse.Namespace, device: torch.device) -> int:
    from explorer.keys import describe_families, markdown_table

    print(markdown_table() if args.markdown else json.dumps(describe_families(), indent=1))
    return 0


# -- entry point -------------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
        from explorer.device import best_device

        device = best_device(args.device)
        return COMMANDS[args.command].run(args, device) or 0
    except (UsageError, ValueError) as exc:
        print(f"error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head`: nothing more to say
        return 0
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # the contract is one line, never a traceback
        print(f"error: internal error ({type(exc).__name__}): {_one_line(exc)}", file=sys.stderr)
        return 1


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
