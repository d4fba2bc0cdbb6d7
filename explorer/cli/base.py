"""What every command shares: the error contract, the one-line argparse errors, JSON out."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, NoReturn


class UsageError(Exception):
    """Bad command-line input (exit code 2)."""


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, not argparse's usage dump
        raise UsageError(message)


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout)
    sys.stdout.write("\n")


def one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
