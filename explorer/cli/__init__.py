"""``python -m explorer``: the library's analyses on the command line, JSON out.

Bad input (a :class:`~explorer.cli.base.UsageError`, or the library's
:class:`~explorer.errors.InputError`: a config, a setting, a file) exits with code 2 and one line on
stderr that starts with ``error:``; any other exception is a bug: it exits 1 with one
``error: internal error (...)`` line naming it, and ``--traceback`` (or ``EXPLORER_DEBUG=1``) prints
the whole trace first.

One module per command (``explorer/cli/<name>.py``, each with ``add_arguments(parser)`` and
``run(args, device)``), listed in :data:`COMMANDS`. Only the module of the command that runs is
imported (none for the top level's ``--help`` or a misspelt command, which answer at once), so
``profile`` never pays for Grad-CAM's captum. The command modules import torch and the models
inside ``run()``, and :func:`main` reads the designs (``QUERY``) first: a typo in one answers in a
fraction of a second, before torch's import.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback
from collections.abc import Sequence
from types import ModuleType

from explorer.cli.base import Parser, UsageError, debugging, one_line, said
from explorer.errors import InputError

__all__ = ["COMMANDS", "main"]

#: Command name -> one-line help; the code is in ``explorer.cli.<name>``.
COMMANDS: dict[str, str] = {
    "profile": "parameters, MACs and per-layer breakdown of configs",
    "keys": "the config language: every family, key and preset",
    "graph": "the layer graph (nodes, edges, stages and blocks) as JSON or Graphviz DOT",
    "scaling": "compound scaling of a config: curve vs the rule, rounding, published B0-B7",
    "signal": "activation std and gradient norm per conv/linear layer (signal flow)",
    "gradcam": "Grad-CAM heatmap of an image (writes .npy)",
    "features": "one layer's feature maps on an image, (C, h, w) (writes .npy)",
    "erf": "effective receptive field of a layer's centre unit, (H, W) summing to 1 (writes .npy)",
    "deform": "offsets and sampling points of a deformable layer on an image (writes .npz)",
    "train": "train a config on the shapes data set: weights (.pt) and a card (.json)",
    "models": "the shipped models (assets/models) and their cards",
    "store": "recompute the stored profiles of the presets (assets/profiles), read by the app's first page",
    "record": "record a long run (a lesson's training comparison) as data in assets/runs, with its card",
    "export": "a design as standalone code (.py), ONNX or torch.export (.pt2), checked against the model",
    "search": "grid search for alpha, beta, gamma with short trainings on shapes (local pool or Ray)",
}


#: Other names of a command: ``saliency`` runs ``gradcam`` (which does more than Grad-CAM since issue 37).
ALIASES: dict[str, str] = {"saliency": "gradcam"}


def command_module(name: str) -> ModuleType:
    return importlib.import_module(f"explorer.cli.{name}")


def _selected(argv: Sequence[str]) -> str | None:
    """The command named on the line (the first word that is one), or None."""
    word = next((word for word in argv if word in COMMANDS or word in ALIASES), None)
    return ALIASES.get(word, word) if word is not None else None


def _parser(selected: str | None) -> tuple[Parser, Parser | None]:
    """The whole parser, and the selected command's (None: no command named)."""
    parser = Parser(prog="python -m explorer", description="CNN Architecture Explorer from the command line.")
    parser.add_argument("--device", default="auto", help="auto (CUDA, then MPS, then CPU), cuda, mps or cpu")
    parser.add_argument(
        "--traceback", action="store_true", help="on an error, print the whole trace (as EXPLORER_DEBUG=1 does)"
    )
    subparsers = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    chosen = None
    for name, help in COMMANDS.items():
        aliases = [alias for alias, command in ALIASES.items() if command == name]
        sub = subparsers.add_parser(name, help=help, aliases=aliases)
        if name == selected:  # the top level's help and errors need only the names: no command's imports
            command_module(name).add_arguments(sub)
            chosen = sub
    return parser, chosen


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = debugging(argv)
    command: Parser | None = None
    try:
        selected = _selected(argv)
        parser, command = _parser(selected)
        args = parser.parse_args(argv)
        _read_designs(args)
        from explorer.runtime.device import best_device
        from explorer.runtime.threads import apply_thread_policy

        apply_thread_policy()
        device = best_device(args.device)
        return command_module(ALIASES.get(args.command, args.command)).run(args, device) or 0
    except (UsageError, InputError) as exc:
        _trace(debug)
        print(f"error: {said(exc, command)}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head`: nothing more to say
        return 0
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: one line naming it, the trace only when asked for
        _trace(debug)
        hint = "" if debug else " (run again with --traceback for the whole trace)"
        print(f"error: internal error ({type(exc).__name__}): {one_line(exc)}{hint}", file=sys.stderr)
        return 1


def _read_designs(args: argparse.Namespace) -> None:
    """Read the designs a command was given (``QUERY`` arguments) before anything heavy is imported:
    the config language needs no torch, so a typo answers at once instead of after torch's 2 to 3 s.
    Each command reads them again; this only raises the :class:`InputError` sooner."""
    from explorer.config import parse_query

    query, queries = getattr(args, "query", None), getattr(args, "queries", None)
    for text in [query] if isinstance(query, str) else list(queries or []):
        parse_query(text)


def _trace(debug: bool) -> None:
    """The exception being handled, whole, on stderr (``--traceback`` or ``EXPLORER_DEBUG``)."""
    if debug:
        traceback.print_exc(file=sys.stderr)
