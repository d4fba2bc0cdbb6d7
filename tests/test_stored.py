"""The stored preset profiles (``assets/profiles/presets.json.gz``, read by the app's first page
without torch) equal what the library computes now, preset by preset, and are used only when the
installed torch and torchvision are the ones that made them."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

from explorer.analysis.memory import training_memory
from explorer.analysis.profile import profile
from explorer.analysis.stored import STORE, library_versions, read_store, stored_profile, stored_training_memory
from explorer.cli.store import preset_queries
from explorer.config import parse_query

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.usefixtures("single_thread")


def test_the_store_is_made_with_the_installed_libraries_and_holds_every_preset() -> None:
    data = read_store()
    assert data is not None, f"{STORE} is missing or was made with other versions than {library_versions()}"
    assert sorted(data["profiles"]) == preset_queries() == sorted(data["training_memory"])


@pytest.mark.slow
def test_every_stored_profile_equals_the_live_one() -> None:
    for query in preset_queries():
        config = parse_query(query)
        assert stored_profile(query) == profile(config), f"{query} is stale: run python -m explorer store"
        try:
            live = training_memory(config, 1)
        except ValueError as error:
            with pytest.raises(ValueError, match="cannot train at batch 1"):
                stored_training_memory(query, 1)
            assert str(error) in json.dumps(read_store()["training_memory"][query])
            continue
        assert stored_training_memory(query, 1) == live, f"{query} is stale: run python -m explorer store"


def test_resnet50_from_the_store_has_the_published_parameters() -> None:
    stored = stored_profile("preset=resnet50")
    assert stored is not None and stored.params == 25_557_032 and stored.query == "preset=resnet50"
    assert sum(row.params for row in stored.layers) == stored.params
    assert stored_training_memory("preset=resnet50", 2) is None  # only batch 1 is stored
    assert stored_profile("family=resnet&depth=20") is None  # not a preset: computed live


def test_a_store_of_other_versions_is_not_used(tmp_path: Path) -> None:
    data = read_store()
    stale = dict(data, versions={"torch": "1.0.0", "torchvision": "0.1.0"})
    path = tmp_path / "presets.json.gz"
    with gzip.open(path, "wt") as file:
        json.dump(stale, file)
    assert stored_profile("preset=resnet50", path) is None
    broken = tmp_path / "broken.json.gz"
    broken.write_bytes(b"not gzip")
    assert stored_profile("preset=resnet50", broken) is None


def test_reading_the_store_imports_no_torch() -> None:
    code = (
        "import sys; from explorer.analysis.stored import stored_profile; "
        "p = stored_profile('preset=resnet18'); print(p.params, 'torch' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["11689512", "False"]
