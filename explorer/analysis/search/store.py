"""A search's directory: ``search.json`` (its arguments) and ``results.jsonl`` (one line per point).

Points are appended as they finish; a line cut short by a kill is skipped on reading, and a later
line for the same point (a settled one, with more seeds) replaces the earlier.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from explorer.analysis.search.grid import GridPoint, SearchSpec
from explorer.analysis.search.results import PointResult
from explorer.errors import InputError

__all__ = [
    "RESULTS_FILE",
    "SPEC_FILE",
    "SearchRun",
    "append",
    "load_results",
    "prepare",
    "search_directory",
    "search_root",
]


RESULTS_FILE = "results.jsonl"


SPEC_FILE = "search.json"


def load_results(directory: str | os.PathLike[str]) -> tuple[SearchSpec | None, list[PointResult]]:
    """The spec and finished points in ``directory`` (a line cut short by a kill is skipped)."""
    directory = Path(directory)
    spec_path = directory / SPEC_FILE
    spec = SearchSpec.from_dict(json.loads(spec_path.read_text())) if spec_path.exists() else None
    results: dict[str, PointResult] = {}
    path = directory / RESULTS_FILE
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                result = PointResult.from_json(json.loads(line))
            except (ValueError, KeyError, TypeError):
                continue
            results[result.point.key] = result
    return spec, list(results.values())


@dataclass
class SearchRun:
    """What :func:`run_search` did: every point's result (earlier runs' included), how many were
    trained now, the wall time of this run and whether it was stopped before the end."""

    spec: SearchSpec
    points: list[GridPoint]
    results: list[PointResult] = field(default_factory=list)
    trained: int = 0
    skipped: int = 0
    #: Networks given more seeds by :func:`settle`.
    settled: int = 0
    wall_seconds: float = 0.0
    cancelled: bool = False
    executor: str = ""


def search_root() -> Path:
    """Where the Scaling lab keeps searches: ``$EXPLORER_SEARCH_DIR``, else a folder in the temp dir."""
    import tempfile

    return Path(os.environ.get("EXPLORER_SEARCH_DIR") or Path(tempfile.gettempdir()) / "explorer-searches")


def search_directory(key: str) -> Path:
    """The directory of the search named ``key`` (a :attr:`SearchSpec.key`; anything else is refused,
    so a link cannot point the page at another folder)."""
    if len(key) != 12 or any(c not in "0123456789abcdef" for c in key):
        raise InputError(f"search '{key}' is not a search name (12 hex digits)")
    return search_root() / key


def prepare(spec: SearchSpec, directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / SPEC_FILE
    if path.exists():
        try:
            existing = SearchSpec.from_dict(json.loads(path.read_text()))
        except (ValueError, TypeError):
            existing = None
        if existing != spec:
            raise InputError(f"{directory} holds a search with other arguments; choose another directory or remove it")
    else:
        path.write_text(json.dumps(spec.to_dict(), indent=1) + "\n")


def append(out: Any, result: PointResult) -> None:
    out.write(json.dumps(result.to_json()) + "\n")
    out.flush()
