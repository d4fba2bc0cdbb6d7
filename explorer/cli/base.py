"""What every command shares: the error contract, the one-line argparse errors, JSON out.

The contract: bad input (a :class:`UsageError` raised here, or the library's
:class:`explorer.errors.InputError`) exits 2 with one ``error:`` line; anything else is a bug and
exits 1 with one line naming the exception; ``--traceback`` or ``EXPLORER_DEBUG=1`` adds the whole
trace. The library names a setting by its own name (``field="held_out"``); :func:`said` puts the
command's flag for it (``--held-out``) in its place.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

from explorer.errors import InputError

#: Set (to anything but "" or "0") to print the whole trace of every error, as ``--traceback`` does.
DEBUG_ENV = "EXPLORER_DEBUG"


class UsageError(Exception):
    """Bad command-line input (exit code 2)."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, not argparse's usage dump
        raise UsageError(message)

    def flag(self, field: str) -> str | None:
        """This parser's option for the library's setting ``field`` (its first option string), or None."""
        for action in self._actions:
            if action.dest == field and action.option_strings:
                return action.option_strings[0]
        return None


def said(exc: BaseException, parser: Parser | None = None) -> str:
    """``exc`` as the one error line says it: an :class:`InputError` about a setting that ``parser``
    has a flag for names the flag (``--alpha '3' is not a grid``), anything else its own message."""
    if isinstance(exc, InputError) and exc.field is not None and parser is not None:
        flag = parser.flag(exc.field)
        if flag is not None:
            return one_line(f"{flag} {exc.problem}")
    return one_line(exc)


def debugging(argv: list[str]) -> bool:
    """Whether to print whole traces: ``--traceback`` on the line or ``EXPLORER_DEBUG`` set."""
    return "--traceback" in argv or os.environ.get(DEBUG_ENV, "") not in ("", "0")


def read_file(path: str, what: str) -> bytes:
    """The bytes of ``path`` (an image, a checkpoint), or a usage error naming ``what`` and why."""
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise UsageError(f"cannot read {what} '{path}': {error.strerror or error}") from None


def require_suffix(path: str, suffix: str, flag: str = "--out") -> None:
    """Refuse a file name numpy would silently extend (``np.save("maps", ...)`` writes ``maps.npy``)."""
    if not path.endswith(suffix):
        raise UsageError(f"{flag} must name a {suffix} file")


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout)
    sys.stdout.write("\n")


def one_line(exc: BaseException | str) -> str:
    text = " ".join(str(exc).split())
    return text or (type(exc).__name__ if isinstance(exc, BaseException) else "")
