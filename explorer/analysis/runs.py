"""Recorded runs: what takes longer than a class can wait, run once and stored as data.

A recorded run is a folder ``assets/runs/<name>/`` with two files:

``data.json``
    what was measured (loss curves per config and seed, or a search's results), written with sorted
    keys and no spaces, so the same run gives the same bytes;
``card.json``
    how it was made: ``name``, ``title``, ``kind`` (``lesson`` or ``search``), the exact
    ``command`` that re-makes it, the ``seeds`` and ``settings``, the ``device``, ``threads``,
    ``torch`` version, ``wall_s`` (seconds the run took, on a machine shared or not, as
    ``load`` says), ``created`` (UTC), and ``checksum``: the SHA-256 of ``data.json``'s bytes.

:func:`read_run` checks the checksum (a data file changed by hand is an error, not a result);
:func:`recorded_runs` lists a folder's runs, skipping (and naming) unreadable ones. Opening a run
reads two small files: no torch, no training.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from explorer.errors import InputError

__all__ = ["RUNS_DIR", "RUNS_ENV", "RecordedRun", "RunError", "read_run", "recorded_runs", "runs_dir", "write_run"]

RUNS_DIR = Path(__file__).resolve().parents[2] / "assets" / "runs"
#: Environment variable naming another folder of recorded runs (a test's).
RUNS_ENV = "EXPLORER_RUNS_DIR"
KINDS = ("lesson", "search")


class RunError(InputError):
    """A recorded run that cannot be used; the message names the folder and what is wrong."""


@dataclass(frozen=True)
class RecordedRun:
    path: Path
    card: dict[str, Any]
    data: dict[str, Any] = field(repr=False)

    @property
    def name(self) -> str:
        return self.card["name"]

    @property
    def title(self) -> str:
        return self.card.get("title", self.name)

    @property
    def kind(self) -> str:
        return self.card["kind"]


def runs_dir() -> Path:
    """``$EXPLORER_RUNS_DIR`` if set, else ``assets/runs``."""
    return Path(os.environ.get(RUNS_ENV) or RUNS_DIR)


def _bytes(data: dict[str, Any]) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()


def write_run(folder: Path, card: dict[str, Any], data: dict[str, Any]) -> RecordedRun:
    """Write ``data`` and ``card`` (checksum and, when absent, ``created`` filled in) to ``folder``."""
    if card.get("kind") not in KINDS:
        raise RunError(f"run kind {card.get('kind')!r}; allowed: {', '.join(KINDS)}")
    folder.mkdir(parents=True, exist_ok=True)
    raw = _bytes(data)
    card = {
        **card,
        "name": card.get("name") or folder.name,
        "created": card.get("created") or datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "checksum": "sha256:" + hashlib.sha256(raw).hexdigest(),
    }
    (folder / "data.json").write_bytes(raw)
    (folder / "card.json").write_text(json.dumps(card, indent=2, sort_keys=True) + "\n")
    return RecordedRun(folder, card, data)


def read_run(folder: Path) -> RecordedRun:
    """The run in ``folder``; RunError when a file is missing, unreadable or its checksum is wrong."""
    try:
        card = json.loads((folder / "card.json").read_text())
        raw = (folder / "data.json").read_bytes()
        data = json.loads(raw)
    except (OSError, ValueError) as error:
        raise RunError(f"recorded run {folder.name}: {error}") from None
    for key in ("name", "kind", "command", "checksum", "device", "torch", "wall_s"):
        if key not in card:
            raise RunError(f"recorded run {folder.name}: card.json has no '{key}'")
    digest = "sha256:" + hashlib.sha256(raw).hexdigest()
    if card["checksum"] != digest:
        raise RunError(f"recorded run {folder.name}: data.json does not match the card's checksum")
    return RecordedRun(folder, card, data)


def recorded_runs(folder: Path | None = None, kind: str | None = None) -> tuple[list[RecordedRun], list[RunError]]:
    """Every run in ``folder`` (default :func:`runs_dir`) of ``kind`` (None: all), by name, and the
    errors of the folders that could not be read. A folder without ``card.json`` is not a run (yet:
    a search being recorded writes its card at the end) and is passed over."""
    folder = folder or runs_dir()
    runs, errors = [], []
    for path in sorted(p for p in folder.glob("*") if (p / "card.json").exists()) if folder.is_dir() else []:
        try:
            run = read_run(path)
        except RunError as error:
            errors.append(error)
            continue
        if kind is None or run.kind == kind:
            runs.append(run)
    return runs, errors
