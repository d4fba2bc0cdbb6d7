"""The grid search: the grid under alpha·beta²·gamma² ≈ 2, each point the Scaling lab's
rule at phi=1, the same results through the in-process runner, the local pool and a local Ray
instance; results.jsonl written as points finish and a rerun resuming; the CLI's error contract."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from explorer.analysis.scaling import Rule, rule_config
from explorer.analysis.search import (
    RESULTS_FILE,
    SEARCH,
    GridPoint,
    InlineExecutor,
    Outcome,
    PointResult,
    PoolExecutor,
    SearchSpec,
    grid_rules,
    load_results,
    parse_axis,
    plan,
    ranking,
    run_search,
    verdict,
)
from explorer.cli import main
from explorer.config import parse_query
from explorer.errors import InputError
from explorer.views.search_text import ranking_sentence, verdict_sentence

ROOT = Path(__file__).resolve().parents[1]
TINY = "family=plain&depth=4&width=4&resolution=16"


def two_points(**changes) -> SearchSpec:
    """A grid of exactly one point (1.2, 1.1, 1.2: ratio 2.09) besides the base; ``changes`` to the recipe."""
    settings = dataclasses.replace(SEARCH, **{"steps": 3, "batch": 8, **changes})
    return SearchSpec(query=TINY, alphas=(1.2,), betas=(1.1,), gammas=(1.2,), seeds=2, settings=settings)


def two_point_plan(spec: SearchSpec) -> list[GridPoint]:
    return [p for p in plan(spec) if p.kind in ("base", "grid")]


def test_parse_axis_forms_and_errors():
    assert parse_axis("1.0:1.4:0.1") == (1.0, 1.1, 1.2, 1.3, 1.4)
    assert parse_axis("1.2,1.1") == (1.1, 1.2)
    assert parse_axis("1.15") == (1.15,)
    for bad in ("1.4:1.0:0.1", "1:2:0", "a:b:c", "0.5:1:0.1", "1,3", "", "1:2:0.001"):
        with pytest.raises(InputError, match=r"^alpha '") as raised:  # the library names its setting, not a flag
            parse_axis(bad, "alpha")
        assert raised.value.field == "alpha"


def test_grid_keeps_points_near_two_and_names_the_nearest_when_none_is():
    spec = SearchSpec(query=TINY)
    rules = grid_rules(spec)
    assert rules and all(abs(r.flops_ratio - 2) <= 0.1 + 1e-9 for r in rules)
    assert Rule(1.2, 1.1, 1.2) in rules and Rule(1.0, 1.0, 1.0) not in rules
    with pytest.raises(ValueError, match=re.escape("nearest: 1.210 at 1/1.1/1")):
        grid_rules(SearchSpec(query=TINY, alphas=(1.0,), betas=(1.1,), gammas=(1.0,)))
    with pytest.raises(ValueError, match="tolerance"):
        SearchSpec(query=TINY, tolerance=0)


def test_plan_scales_by_the_labs_rule_and_matches_baseline_macs():
    spec = two_points()
    points = plan(spec)
    assert [p.kind for p in points] == ["base", "grid", "depth", "width", "resolution"]
    base = parse_query(TINY)
    grid = points[1]
    assert grid.query == rule_config(base, Rule(1.2, 1.1, 1.2), 1.0).config.query
    target = 2 * points[0].macs
    for single in points[2:]:
        scaled = [v for v in (single.alpha, single.beta, single.gamma) if v != 1.0]
        assert len(scaled) == 1  # one dimension only
        assert 0.75 < single.macs / target < 1.25, single


@pytest.mark.slow
def test_two_point_search_through_the_pool_equals_in_process(tmp_path):
    spec = two_points()
    points = two_point_plan(spec)
    inline = run_search(spec, tmp_path / "inline", InlineExecutor(), points=points)
    pool = PoolExecutor(workers=2)
    try:
        pooled = run_search(spec, tmp_path / "pool", pool, points=points)
    finally:
        pool.close()
    assert pooled.trained == inline.trained == 2 and not pooled.cancelled
    for a, b in zip(inline.results, pooled.results, strict=True):
        assert a.point == b.point and a.accuracies == b.accuracies and a.final_losses == b.final_losses
        assert len(a.accuracies) == 2 and all(0.0 <= x <= 1.0 for x in a.accuracies)
        assert all(s > 0 for s in a.seconds)
    lines = (tmp_path / "pool" / RESULTS_FILE).read_text().splitlines()
    assert sorted(json.loads(line)["key"] for line in lines) == sorted(p.key for p in points)


@pytest.mark.slow
def test_two_point_search_through_a_local_ray_instance_equals_the_pool(tmp_path):
    ray = pytest.importorskip("ray")
    from explorer.analysis.search import RayExecutor

    spec = two_points()
    points = two_point_plan(spec)
    reference = run_search(spec, tmp_path / "inline", InlineExecutor(), points=points)
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        object_store_memory=80 * 1024**2,
        runtime_env={"env_vars": {"PYTHONPATH": str(ROOT)}},
    )
    try:
        executor = RayExecutor(None)
        assert "Ray" in executor.description
        on_ray = run_search(spec, tmp_path / "ray", executor, points=points)
        executor.close()  # not its instance: left running
        assert ray.is_initialized()
    finally:
        ray.shutdown()
    assert not ray.is_initialized()
    assert [r.accuracies for r in on_ray.results] == [r.accuracies for r in reference.results]
    assert [r.final_losses for r in on_ray.results] == [r.final_losses for r in reference.results]


class StopAfter(InlineExecutor):
    """In-process, but sets the stop event after ``n`` tasks (an interrupted run)."""

    def __init__(self, n: int, stop: threading.Event) -> None:
        super().__init__()
        self.n, self.stop = n, stop

    def run(self, tasks, stop=None):
        for count, item in enumerate(super().run(tasks, stop), start=1):
            yield item
            if count == self.n:
                self.stop.set()


def test_an_interrupted_search_resumes_and_skips_finished_points(tmp_path):
    spec = two_points()
    points = two_point_plan(spec)
    stop = threading.Event()
    first = run_search(spec, tmp_path, StopAfter(2, stop), points=points, stop=stop)
    assert first.cancelled and first.trained == 1  # both seeds of the first network, then stopped
    _, kept = load_results(tmp_path)
    assert [r.point.key for r in kept] == [points[0].key]
    with (tmp_path / RESULTS_FILE).open("a") as out:
        out.write('{"key": "cut short by a kil')  # a line a kill left half-written is ignored
    second = run_search(spec, tmp_path, InlineExecutor(), points=points)
    assert second.skipped == 1 and second.trained == 1 and not second.cancelled
    assert [r.point.key for r in second.results] == [p.key for p in points]
    assert second.results[0] == first.results[0]
    with pytest.raises(ValueError, match="other arguments"):
        run_search(two_points(lr=0.01), tmp_path, InlineExecutor(), points=points)


def _result(kind: str, macs: int, accuracies: tuple[float, ...], rule=(1.0, 1.0, 1.0)) -> PointResult:
    point = GridPoint(kind, *rule, query=f"q{kind}{rule}", params=1, macs=macs, resolution=16, achieved=rule)
    return PointResult(point, accuracies, (0.1,) * len(accuracies), (1.0,) * len(accuracies), "cpu")


def test_verdict_says_which_way_it_went_with_the_spread():
    compound = _result("grid", 200, (0.80, 0.82), (1.2, 1.1, 1.15))
    singles = [_result("depth", 200, (0.60, 0.62)), _result("width", 210, (0.79, 0.83))]
    judged = verdict([compound, *singles])
    assert judged.best == compound
    assert [c.outcome for c in judged.comparisons] == [Outcome.BETTER, Outcome.WITHIN_SPREAD]
    assert not judged.wins
    said = verdict_sentence(judged)
    # width only, seed by seed: +1 % and -1 %, so the 95 % interval of the mean difference is ±12.7 %
    assert "not shown to win" in said and "81.0% ± 1.4%" in said and "margin 12.7%" in said
    worse = verdict([compound, _result("resolution", 190, (0.95, 0.96))])
    assert worse.comparisons[0].outcome == Outcome.WORSE and "did not win" in verdict_sentence(worse)
    wins = verdict([compound, _result("depth", 200, (0.60, 0.62))])
    assert wins.wins and "beats every single-dimension baseline" in verdict_sentence(wins)
    # a grid point that scales one dimension only is not a compound point
    assert verdict([_result("grid", 200, (0.9,), (2.0, 1.0, 1.0))]).best is None


def run_cli(*args: str, capsys) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--alpha", "1.4:1.0:0.1"], "--alpha '1.4:1.0:0.1' is not a grid"),
        (["--beta", "3"], "--beta '3' is not a grid"),
        (["--tolerance", "0.001", "--alpha", "1", "--beta", "1.1", "--gamma", "1"], "no grid point"),
        (["--tolerance", "-1"], "--tolerance -1"),
        (["--ray", "somewhere:1234"], "--ray 'somewhere:1234'"),
        (["--workers", "0"], "--workers 0"),
    ],
)
def test_cli_error_contract(tmp_path, capsys, extra, message):
    code, out, err = run_cli("search", TINY, "--out", str(tmp_path), *extra, capsys=capsys)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("error: ") and message in err, err


@pytest.mark.slow
def test_cli_unreachable_ray_address_is_one_error_line(tmp_path):
    pytest.importorskip("ray")
    result = subprocess.run(
        [sys.executable, "-m", "explorer", "search", TINY, "--alpha", "1.2", "--beta", "1.1", "--gamma", "1.2",
         "--steps", "2", "--seeds", "1", "--ray", "ray://127.0.0.1:9", "--out", str(tmp_path)],
        capture_output=True, text=True, cwd=ROOT, timeout=240,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot reach the Ray cluster at ray://127.0.0.1:9")


@pytest.mark.slow
def test_cli_runs_and_resumes_with_json(tmp_path, capsys):
    args = ["search", TINY, "--alpha", "1.2", "--beta", "1.1", "--gamma", "1.2", "--steps", "2", "--seeds", "1"]
    args += ["--batch", "8", "--workers", "1", "--out", str(tmp_path), "--json"]
    code, out, _ = run_cli(*args, capsys=capsys)
    assert code == 0
    first = json.loads(out)
    assert first["trained"] == 5 and first["skipped"] == 0
    assert {p["kind"] for p in first["points"]} == {"base", "grid", "depth", "width", "resolution"}
    assert all(p["macs"] > 0 and p["params"] > 0 and len(p["accuracies"]) == 1 for p in first["points"])
    code, out, _ = run_cli(*args, capsys=capsys)
    again = json.loads(out)
    assert code == 0 and again["trained"] == 0 and again["skipped"] == 5
    assert again["points"] == first["points"]


def test_without_ray_the_error_says_what_to_do(monkeypatch, tmp_path, capsys):
    from explorer.analysis.search import RayExecutor

    monkeypatch.setitem(sys.modules, "ray", None)  # as if it were not installed
    with pytest.raises(ValueError, match="Ray is not installed"):
        RayExecutor("auto")
    code, _, err = run_cli("search", TINY, "--alpha", "1.2", "--beta", "1.1", "--gamma", "1.2", "--ray", "auto",
                           "--out", str(tmp_path), capsys=capsys)  # fmt: skip
    assert code == 2 and err.startswith("error: Ray is not installed") and err.count("\n") == 1


def test_ranking_separates_the_winner_only_beyond_the_spread():
    from explorer.analysis.search import ranking

    winner = _result("grid", 200, (0.80, 0.82), (1.2, 1.1, 1.15))
    close = _result("width", 210, (0.81, 0.79))
    far = _result("depth", 200, (0.50, 0.52))
    ranked = ranking([far, close, winner])
    assert ranked.winner == winner and ranked.runner_up == close
    assert ranked.difference == pytest.approx(0.01)
    assert ranked.noise == pytest.approx(12.706 * 0.02, abs=1e-4)  # seed by seed -1 % and +3 %: se 2 %, t(1)
    assert not ranked.separated and ranked.ranks  # spread 1.4 % against a 30 % span
    said = ranking_sentence(ranked)
    assert "these seeds do not tell the two apart" in said and "ranks its points" in said
    clear = ranking([far, winner])
    assert clear.separated and "is more than the margin their seeds resolve" in ranking_sentence(clear)
    assert clear.clear_of_spread and clear.seeds_ahead == (2, 2)
    assert "and more than either's spread over seeds (1.4%); seed by seed the winner came out ahead in 2 of 2" in (
        ranking_sentence(clear)
    )
    assert ranking([]) is None


def test_a_winner_apart_by_its_mean_but_within_one_trainings_spread_is_said_so():
    from explorer.analysis.search import ranking

    # Seed by seed the winner is 0.5 % ahead every time (margin 0), but one training lands within ±1.1 %.
    winner = _result("grid", 200, (0.80, 0.82) * 4, (1.2, 1.1, 1.15))
    close = _result("width", 210, (0.795, 0.815) * 4)
    ranked = ranking([winner, close])
    assert ranked.separated and not ranked.clear_of_spread
    said = ranking_sentence(ranked)
    assert "but not more than the larger spread over seeds (1.1%)" in said and ranked.seeds_ahead == (8, 8)
    assert (
        "a single training of each could still come out the other way; seed by seed the winner came out ahead" in said
    )


def test_a_rule_that_rounds_to_the_winners_network_is_not_its_runner_up():
    from explorer.analysis.search import ranking

    winner = _result("grid", 200, (0.90, 0.91), (1.0, 1.0, 1.4))
    twin = PointResult(  # resolution only, rounded to the same network: the same numbers
        GridPoint("resolution", 1.0, 1.0, 1.38, winner.point.query, 1, 200, 16, (1.0, 1.0, 1.38)),
        winner.accuracies, winner.seconds, winner.final_losses, "cpu",
    )  # fmt: skip
    other = _result("width", 210, (0.80, 0.81))
    ranked = ranking([winner, twin, other])
    assert ranked.runner_up == other and ranked.difference == pytest.approx(0.10) and ranked.separated


def test_a_spec_with_the_data_options_at_their_defaults_keeps_its_old_key():
    old = SearchSpec(query="family=plain&depth=4&width=8&resolution=32")
    assert "rotate" not in old.to_dict() and "scale" not in old.to_dict()
    assert old.to_dict() == {  # the file's keys, as searches recorded before the recipe was one object
        "query": old.query, "alphas": [1.0, 1.1, 1.2, 1.3, 1.4], "betas": [1.0, 1.1, 1.2, 1.3, 1.4],
        "gammas": [1.0, 1.1, 1.2, 1.3, 1.4], "tolerance": 0.1, "steps": 60, "seeds": 2, "batch": 32, "lr": 0.001,
    }  # fmt: skip
    upright = SearchSpec(
        query=old.query, settings=dataclasses.replace(SEARCH, rotate=False, scale=(0.5, 0.9), held_out=512)
    )
    assert upright.key != old.key
    assert {"rotate": False, "scale": [0.5, 0.9], "held_out": 512}.items() <= upright.to_dict().items()
    assert SearchSpec.from_dict(json.loads(json.dumps(upright.to_dict()))) == upright
    momentum = SearchSpec(query=old.query, settings=dataclasses.replace(SEARCH, momentum=0.5))
    assert momentum.to_dict()["momentum"] == 0.5 and momentum.key != old.key  # a new field, once it is set


def test_a_run_keeps_its_first_losses_and_a_prefix_re_run_takes_exactly_them(tmp_path):
    from explorer.analysis.search import FIRST_STEPS, first_losses

    spec = two_points(schedule="cosine", lr=0.01, steps=6)
    points = two_point_plan(spec)
    run = run_search(spec, tmp_path, InlineExecutor(), points=points)
    _, again = load_results(tmp_path)
    for result in run.results:
        assert len(result.first_losses) == 2 and all(len(f) == FIRST_STEPS for f in result.first_losses)
        assert result.first_losses[0] != result.first_losses[1]  # two seeds, two runs
        for seed in range(2):  # the same schedule over 6 steps, stopped after 3
            assert first_losses(spec.task(result.point.query, seed)) == list(result.first_losses[seed])
    assert [r.first_losses for r in again] == [r.first_losses for r in run.results]  # through results.jsonl


def test_the_claim_in_words_follows_the_verdict_and_the_ranking():
    from explorer.analysis.search import ranking
    from explorer.views.search_text import claim_in_words

    compound = _result("grid", 200, (0.80, 0.82), (1.2, 1.1, 1.15))
    depth, width = _result("depth", 200, (0.60, 0.62)), _result("width", 210, (0.79, 0.83))
    results = [compound, depth, width]
    outcome, words = claim_in_words(verdict(results), ranking(results))
    assert outcome == "not shown" and "neither show nor refute" in words
    assert "**81.0% ± 1.4%**" in words and "deeper only" in words and "+20.0%" in words
    assert "Against wider only the difference is inside the margin" in words
    assert "(its advantage lies between -12.7% and +12.7%): **no difference these seeds can see**" in words
    assert "Any edge the compound network has over wider only is under +12.7% (the top of the 95% interval)" in words
    assert "other seeds could swap them" in words  # width only is the runner-up, 0.0 % behind
    outcome, words = claim_in_words(verdict([compound, depth]), ranking([compound, depth]))
    assert outcome == "holds" and "**the claim holds here.**" in words
    assert "these seeds tell the two apart" in words and "not by the luck of the seeds" in words
    assert "and than either's spread (1.4%): these seeds tell the two apart; seed by seed the winner came out " in words
    steady = _result("grid", 200, (0.80, 0.82) * 4, (1.2, 1.1, 1.15))
    close = _result("depth", 210, (0.795, 0.815) * 4)  # 0.5 % behind in every seed: apart, within a spread
    words = claim_in_words(verdict([steady, close]), ranking([steady, close]))[1]
    assert "tell the two apart on average, though a single training of each could still swap them" in words
    sharp = _result("resolution", 190, (0.95, 0.96))
    outcome, words = claim_in_words(verdict([compound, sharp]), ranking([compound, sharp]))
    assert outcome == "refuted" and "Higher resolution only beat it" in words
    assert claim_in_words(verdict([depth]), ranking([depth]))[0] == "open"


def test_the_accuracy_chart_spans_the_error_bars_once_every_point_is_in():
    """A projector shows the grid's differences: the finished recorded search's y axis runs from just
    below the lowest error bar to just above the highest (88-99 % here, not 0-100 %); while points are
    still training they sit at zero on an axis from zero."""
    from explorer.analysis.runs import RUNS_DIR, recorded_runs
    from explorer.analysis.search import load_results, plan
    from explorer.views.search import accuracy_vs_macs

    (run,), _ = recorded_runs(RUNS_DIR, kind="search")
    spec, results = load_results(run.path)
    low, high = accuracy_vs_macs(results, spec).layout.yaxis.range
    lowest = min(r.accuracy - r.spread for r in results)
    highest = max(r.accuracy + r.spread for r in results)
    assert lowest - 0.03 < low < lowest and highest < high < highest + 0.03
    training = accuracy_vs_macs(results[:3], spec, plan(spec))
    assert training.layout.yaxis.range is None and training.layout.yaxis.rangemode == "tozero"


def test_the_rule_line_is_labelled_where_it_stands_on_the_log_axis():
    """The MACs axis is logarithmic, where plotly reads an annotation's x as log10 of the value (a
    shape's x as the value): the label of the 2 × base MACs line sits at log10 of it, on the plot."""
    import math

    from explorer.analysis.runs import RUNS_DIR, recorded_runs
    from explorer.analysis.search import load_results
    from explorer.views.scaling import accuracy_vs_cost
    from explorer.views.search import accuracy_vs_macs

    (run,), _ = recorded_runs(RUNS_DIR, kind="search")
    spec, results = load_results(run.path)
    fig = accuracy_vs_macs(results, spec)
    rule = 2 * next(r.point.macs for r in results if r.point.kind == "base")
    (label,) = fig.layout.annotations
    assert label.text.startswith("α·β²·γ² = 2") and label.x == pytest.approx(math.log10(rule))
    assert fig.layout.xaxis.type == "log" and fig.layout.shapes[-1].x0 == rule
    (current,) = accuracy_vs_cost([], "macs", current=("mine", 4.0e9)).layout.annotations
    assert current.text == "current: mine" and current.x == pytest.approx(9.602, abs=1e-3)


def test_the_margin_is_the_95_percent_interval_of_the_difference_and_more_seeds_narrow_it():
    """Seed by seed (paired t) where both networks have the same seeds, since seed k is the same data
    for every point; Welch's t otherwise; nothing measured with one seed each. A 3 % gap is within
    the margin of 4 seeds and beyond that of 16, with the same spreads."""
    import statistics

    from explorer.analysis.search import margin, t95

    a, b = _result("grid", 1, (0.80, 0.84, 0.82, 0.86)), _result("width", 1, (0.80,) * 4)
    differences = (0.0, 0.04, 0.02, 0.06)
    assert margin(a, b) == pytest.approx(3.182 * statistics.stdev(differences) / 2)
    assert margin(a, b) == pytest.approx(0.0411, abs=1e-4) and not ranking([a, b]).separated
    a16, b16 = _result("grid", 1, a.accuracies * 4), _result("width", 1, b.accuracies * 4)
    assert a16.spread == pytest.approx(a.spread, rel=0.15)  # about the same spread ...
    assert margin(a16, b16) == pytest.approx(0.0123, abs=1e-4) and ranking([a16, b16]).separated  # ... told apart
    five = _result("width", 1, (0.79, 0.80, 0.81, 0.80, 0.80))  # other seeds: Welch
    welch = (a.spread**2 / 4 + five.spread**2 / 5) ** 0.5
    degrees = welch**4 / ((a.spread**2 / 4) ** 2 / 3 + (five.spread**2 / 5) ** 2 / 4)
    assert margin(a, five) == pytest.approx(t95(degrees) * welch) and 3 <= degrees < 4
    assert margin(_result("grid", 1, (0.8,)), _result("width", 1, (0.7,))) == 0.0
    assert t95(1) == 12.706 and t95(19) == 2.093 and t95(500) == 2.042


def test_settling_gives_the_verdicts_networks_more_seeds_exactly_as_a_longer_search_would(tmp_path):
    """``settle`` trains seeds 2.. of the networks the ranking and the verdict rest on, and no other;
    every new seed is the very run a search with more seeds would have made; the lines it appends
    are the ones read back."""
    from explorer.analysis.search import run_task, settle, settle_targets

    spec = two_points()
    run_search(spec, tmp_path, InlineExecutor())
    _, before = load_results(tmp_path)
    settled = settle(spec, tmp_path, InlineExecutor(), 3)
    assert not settled.cancelled and settled.trained >= 4  # best compound point and 3 baselines at least
    _, after = load_results(tmp_path)
    assert {r.point.key for r in after} == {r.point.key for r in before}
    targets = {r.point.query for r in settle_targets(after)}
    ranked, judged = ranking(after), verdict(after)
    assert {ranked.winner.point.query, ranked.runner_up.point.query, judged.best.point.query} <= targets
    old = {r.point.key: r for r in before}
    for result in after:
        earlier = old[result.point.key]
        if result.point.query not in targets:
            assert result == earlier  # nothing rests on it: untouched
            continue
        assert len(result.accuracies) == 3 and result.accuracies[:2] == earlier.accuracies
        third = run_task(spec.task(result.point.query, 2))
        assert result.accuracies[2] == third.accuracy and result.final_losses[2] == third.final_loss
        assert result.first_losses[2] == third.first_losses
    assert settle(spec, tmp_path, InlineExecutor(), 3).trained == 0  # nothing left to settle
    with pytest.raises(InputError, match=r"^settle 21; allowed: 2"):
        settle(spec, tmp_path, InlineExecutor(), 21)


def test_cli_settle_out_of_range_is_a_usage_error(tmp_path, capsys):
    code, out, err = run_cli("search", TINY, "--seeds", "3", "--settle", "2", "--out", str(tmp_path), capsys=capsys)
    assert code == 2 and out == "" and err.startswith("error: --settle 2; allowed: 3 (--seeds) to 20")


def test_settling_in_words_sets_the_first_seeds_against_all_of_them():
    from explorer.views.search_text import settling_in_words

    lucky = _result("grid", 200, (0.90, 0.92, 0.80, 0.78), (1.2, 1.1, 1.15))  # 91 % over 2 seeds, 85 % over 4
    steady = _result("depth", 200, (0.80, 0.82, 0.82, 0.80))
    unsettled = _result("width", 200, (0.70, 0.72))
    said = settling_in_words([unsettled, steady, lucky], seeds=2)
    assert said is not None and "1 of 2 ended lower than their first 2 seeds" in said
    assert "- α=1.2 β=1.1 γ=1.15: 91.0% over 2 seeds, **85.0% ± 7.0% over 4**" in said
    assert said.index("α=1.2 β=1.1 γ=1.15") < said.index("depth only") and "width only" not in said
    assert settling_in_words([unsettled], seeds=2) is None


def test_cli_settle_records_the_settled_networks_and_the_wall_time_of_every_run(tmp_path, capsys):
    """``--settle`` after the grid; the record's card says which networks got how many seeds, and a
    second run on the same results (nothing left to train) keeps the first run's wall time."""
    from explorer.analysis.runs import read_run

    args = ["search", TINY, "--alpha", "1.2", "--beta", "1.1", "--gamma", "1.2", "--steps", "2", "--seeds", "2"]
    args += ["--batch", "8", "--workers", "1", "--settle", "3", "--out", str(tmp_path), "--record", "tiny", "--json"]
    code, out, _ = run_cli(*args, capsys=capsys)
    assert code == 0
    first = json.loads(out)
    card = read_run(tmp_path).card
    seeds = {p["query"]: len(p["accuracies"]) for p in first["points"]}
    assert first["settled"] >= 4 and card["settled"] == {q: n for q, n in seeds.items() if n == 3}
    assert len(card["settled"]) == first["settled"] and set(seeds.values()) <= {2, 3}
    code, out, _ = run_cli(*args, capsys=capsys)
    again = json.loads(out)
    assert code == 0 and again["trained"] == again["settled"] == 0 and again["points"] == first["points"]
    assert read_run(tmp_path).card["wall_s"] >= card["wall_s"] > 0
