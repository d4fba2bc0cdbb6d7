"""Stored profiles of the presets: the numbers of the first page a user sees, without torch.

Importing torch and torchvision takes about 3 s of one core on a 2-core laptop, and the app's first
page (the Build page on ``preset=resnet18``) needs only a profile and a training-memory count. So
``assets/profiles/presets.json.gz`` holds, for every preset at batch 1, what
:func:`explorer.measure.profile.profile` and :func:`explorer.measure.memory.training_memory`
compute, made by ``python -m explorer store`` with the pinned torch and torchvision. A store made
with other versions is not used (the numbers are computed live instead), and
``tests/test_stored.py`` recomputes every stored entry and requires it to be equal.
"""

from __future__ import annotations

import gzip
import json
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from explorer.errors import InputError
from explorer.measure.memory_data import TrainingMemory
from explorer.measure.profile_data import Profile

__all__ = ["STORE", "library_versions", "read_store", "store_data", "stored_profile", "stored_training_memory"]

#: Where the stored profiles live (the repository's ``assets/profiles``).
STORE = Path(__file__).resolve().parents[2] / "assets" / "profiles" / "presets.json.gz"


def library_versions() -> dict[str, str]:
    """The installed torch and torchvision versions, read from their metadata (no import)."""
    found = {}
    for name in ("torch", "torchvision"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "missing"
    return found


@lru_cache(maxsize=4)
def read_store(path: Path = STORE) -> dict[str, Any] | None:
    """The store's contents, or None when it is missing, unreadable or made with other versions."""
    try:
        with gzip.open(path, "rt", encoding="utf-8") as file:
            data = json.load(file)
    except (OSError, ValueError):
        return None
    return data if data.get("versions") == library_versions() else None


def stored_profile(query: str, path: Path = STORE) -> Profile | None:
    """The stored profile of the canonical ``query`` (a preset at batch 1), or None."""
    data = read_store(path)
    entry = None if data is None else data["profiles"].get(query)
    return None if entry is None else Profile.from_dict(entry)


def stored_training_memory(query: str, batch: int, path: Path = STORE) -> TrainingMemory | None:
    """The stored training memory of the canonical ``query`` at ``batch`` (only 1 is stored), or None.
    Raises ValueError, with the live computation's message, where that computation raised it."""
    data = read_store(path)
    entry = None if data is None or batch != 1 else data["training_memory"].get(query)
    if entry is not None and "error" in entry:
        raise InputError(entry["error"])
    return None if entry is None else TrainingMemory.from_dict(entry)


def store_data(queries: list[str]) -> dict[str, Any]:
    """Compute what the store holds for ``queries`` (canonical), with the versions that computed it."""
    from explorer.config import parse_query
    from explorer.measure.memory import training_memory_or_smallest_batch
    from explorer.measure.profile import profile

    profiles, memories = {}, {}
    for query in queries:
        config = parse_query(query)
        profiles[query] = profile(config).to_dict()
        try:
            memories[query] = training_memory_or_smallest_batch(config, 1).to_dict()
        except ValueError as error:  # no preset today: batch 2 trains wherever batch 1 cannot
            memories[query] = {"error": str(error)}
    return {"versions": library_versions(), "profiles": profiles, "training_memory": memories}
