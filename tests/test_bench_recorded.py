"""bench/ scripts that train nothing run in the suite, so an interface change cannot break them
unseen (``bench_search_noise.py`` once called a ``train_on_shapes`` that had changed): the recorded
search's figures, as ``bench/README.md`` quotes them, come from the checksummed record."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from explorer.analysis.runs import RUNS_DIR, recorded_runs
from explorer.analysis.search import PointResult, ranking

ROOT = Path(__file__).resolve().parents[1]


def test_bench_search_prints_the_recorded_searchs_figures():
    (run,), _ = recorded_runs(RUNS_DIR, kind="search")
    result = subprocess.run(
        [sys.executable, "bench/bench_search.py", "--recorded", run.name],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    ranked = ranking(PointResult.from_json(p) for p in run.data["points"])
    assert f"winner - runner-up {ranked.difference:+.1%} against a margin of {ranked.noise:.1%}" in result.stdout
    ahead, shared = ranked.seeds_ahead
    assert f"beyond either's spread = {ranked.clear_of_spread}; ahead in {ahead} of {shared} shared seeds" in (
        result.stdout
    )
    assert f"separated = {ranked.separated}" in result.stdout
    assert run.card["command"] in result.stdout
    for point in run.data["points"]:
        assert f"{len(point['accuracies'])} seeds)" in result.stdout and point["query"] in result.stdout
