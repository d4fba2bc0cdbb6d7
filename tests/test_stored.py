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

from explorer.analysis.stored import STORE, library_versions, read_store, stored_profile, stored_training_memory
from explorer.cli import main
from explorer.cli.store import preset_queries
from explorer.config import parse_query
from explorer.measure.memory import training_memory, training_memory_or_smallest_batch
from explorer.measure.profile import profile

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.usefixtures("single_thread")


def test_the_store_is_made_with_the_installed_libraries_and_holds_every_preset() -> None:
    data = read_store()
    assert data is not None, f"{STORE} is missing or was made with other versions than {library_versions()}"
    assert sorted(data["profiles"]) == preset_queries() == sorted(data["training_memory"])


@pytest.mark.slow
def test_the_store_command_writes_exactly_the_committed_store(tmp_path: Path, capsys) -> None:
    """Every preset recomputed now: the committed file holds exactly what ``store`` writes (the
    JSON text, byte for byte; the compressed bytes could differ with another zlib)."""
    out = tmp_path / "presets.json.gz"
    assert main(["store", "--out", str(out)]) == 0
    assert f"{len(preset_queries())} presets -> {out}" in capsys.readouterr().out
    written, committed = gzip.decompress(out.read_bytes()), gzip.decompress(STORE.read_bytes())
    assert written == committed, "the store is stale: run python -m explorer store"


@pytest.mark.parametrize("query", ["preset=resnet18", "preset=efficientnet_b0", "preset=hybrid_resnet"])
def test_a_stored_entry_reads_back_as_the_live_result(query: str) -> None:
    config = parse_query(query)
    assert stored_profile(query) == profile(config)
    assert stored_training_memory(query, 1) == training_memory(config, 1)


def test_where_batch_1_cannot_train_the_store_holds_the_live_count_at_batch_2() -> None:
    stored = stored_training_memory("preset=inception_v3", 1)
    live = training_memory_or_smallest_batch(parse_query("preset=inception_v3"), 1)
    assert stored == live and stored.batch == 2
    assert stored.note.startswith("counted at batch 2: at batch 1 a batch norm sees one value per channel")
    assert stored.saved_bytes == training_memory(parse_query("preset=inception_v3"), 2).saved_bytes


def test_an_unwritable_path_is_a_usage_error(tmp_path: Path, capsys) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    assert main(["store", "--out", str(blocker / "presets.json.gz")]) == 2
    assert capsys.readouterr().err.startswith("error: cannot write")


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
