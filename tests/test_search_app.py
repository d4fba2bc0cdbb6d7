"""The Scaling lab's Search tab through AppTest: the plan in numbers, a finished search reopened by
its link with the verdict and the apply-to-sliders button, and a search started from the page."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from explorer.analysis.search import SEARCH, InlineExecutor, SearchSpec, load_results, run_search, search_directory

APP = str(Path(__file__).resolve().parents[1] / "app.py")
SMALL = "family=plain&depth=4&width=8&resolution=32"


@pytest.fixture(autouse=True)
def search_root(tmp_path, monkeypatch):
    monkeypatch.setenv("EXPLORER_SEARCH_DIR", str(tmp_path))
    return tmp_path


def open_search(**query: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=300)
    for key, value in query.items():
        at.query_params[key] = value
    at.switch_page("pages/scaling.py")
    at.run()
    at.session_state["scaling.tab"] = "Search"
    at.run()
    assert not at.exception, at.exception
    return at


def texts(at: AppTest) -> str:
    return " ".join(m.value for m in (*at.markdown, *at.caption, *at.success, *at.warning, *at.error))


def test_search_tab_plans_the_default_grid():
    at = open_search(preset="resnet18")
    assert at.radio(key="scaling.search_base").value == SMALL
    # 15 grid points of 1.0:1.4:0.1 within 0.1 of 2, the base and three single-dimension baselines
    assert "**19 networks** (15 grid points, the base, 3 single-dimension baselines) × 2 seeds" in texts(at)
    assert at.button(key="scaling.search_start").label == "Start the search"
    at.text_input(key="scaling.search_alpha").set_value("1.4:1.0").run()
    assert any("alpha '1.4:1.0' is not a grid" in e.value for e in at.error)


def test_a_finished_search_reopens_from_its_link_and_applies_the_best_point():
    spec = SearchSpec(
        query=SMALL,
        alphas=(1.2,),
        betas=(1.1,),
        gammas=(1.2, 1.15),
        seeds=2,
        settings=replace(SEARCH, steps=2, batch=8),
    )
    run = run_search(spec, search_directory(spec.key), InlineExecutor())
    assert run.trained == 6
    at = open_search(preset="resnet18", search=spec.key)
    assert f"**Search `{spec.key}`**" in texts(at)
    assert "Best compound point α=1.2 β=1.1 γ=" in texts(at)
    table = next(d.value for d in at.dataframe if "accuracy" in d.value.columns)
    assert len(table) == 6 and set(table["kind"]) == {"base", "grid", "depth", "width", "resolution"}
    _, stored = load_results(search_directory(spec.key))
    assert sorted(table["accuracy"]) == sorted(r.accuracy for r in stored)
    apply = at.button(key="scaling.search_apply")
    best = next(
        r for r in stored if r.point.compound and r.accuracy == max(x.accuracy for x in stored if x.point.compound)
    )
    apply.click().run()
    assert not at.exception, at.exception
    assert at.slider(key="scaling.scale_alpha").value == 1.2
    assert at.slider(key="scaling.scale_gamma").value == best.point.gamma
    # the URL keeps what differs from the sliders' defaults (alpha 1.2, beta 1.1, gamma 1.15, phi 1)
    expected = {} if best.point.gamma == 1.15 else {"scale_gamma": f"{best.point.gamma:g}"}
    assert {k: v for k, v in at.query_params.items() if k.startswith("scale_")} == expected
    assert at.query_params["search"] == spec.key


def test_a_link_to_a_missing_or_bad_search_says_so():
    at = open_search(search="0123456789ab")
    assert any("No search `0123456789ab`" in w.value for w in at.warning)
    at = open_search(search="../../etc")
    assert any("not a search name" in e.value for e in at.error)


@pytest.mark.slow
def test_start_a_search_from_the_page(search_root):
    at = open_search(preset="resnet18")
    for name, value in (("alpha", "1.2"), ("beta", "1.1"), ("gamma", "1.2")):
        at.text_input(key=f"scaling.search_{name}").set_value(value)
    at.select_slider(key="scaling.search_steps").set_value(10)
    at.select_slider(key="scaling.search_seeds").set_value(1)
    at.number_input(key="scaling.search_workers").set_value(1)
    at.run()
    assert "**5 networks**" in texts(at)
    at.button(key="scaling.search_start").click().run()
    assert not at.exception, at.exception
    key = at.query_params["search"]
    job = at.session_state["scaling.search_job"]
    assert job.wait(timeout=240) and job.error is None, job.error
    at.run()
    assert not at.exception, at.exception
    _, results = load_results(search_root / key)
    assert len(results) == 5 and all(r.ok and len(r.accuracies) == 1 for r in results)
    assert "Best compound point α=1.2 β=1.1 γ=1.2" in texts(at)


def test_the_search_tab_opens_on_the_recorded_search():
    """The shipped recorded search (assets/runs) is shown at once: its verdict, its ranking and its
    table, with the numbers of its checksummed data; nothing is trained."""
    from explorer.analysis.runs import RUNS_DIR, recorded_runs
    from explorer.analysis.search import PointResult, ranking, verdict
    from explorer.views.search_text import claim_in_words, ranking_sentence, verdict_sentence

    (run,), _ = recorded_runs(RUNS_DIR, kind="search")
    results = [PointResult.from_json(p) for p in run.data["points"]]  # the checksummed data, in plan order
    _, finished = load_results(run.path)  # results.jsonl, in the order the points finished: what the page reads
    assert sorted(r.to_json()["key"] for r in finished) == sorted(r.to_json()["key"] for r in results)
    at = open_search(preset="resnet18")
    shown = texts(at) + " ".join(i.value for i in at.info)
    assert f"**Recorded search: {run.title}.**" in shown
    assert verdict_sentence(verdict(finished)) in shown and run.card["verdict"] == verdict_sentence(verdict(results))
    assert ranking_sentence(ranking(results)) in shown
    _, words = claim_in_words(verdict(results), ranking(results))  # the claim judged, in a learner's words
    assert any(m.value == words for m in at.markdown) and "**The claim:**" in words
    frame = next(d for d in at.dataframe if "accuracy" in d.value.columns)
    table = frame.value
    assert len(table) == len(results) and sorted(table["accuracy"]) == sorted(r.accuracy for r in results)
    formats = {k: v["type_config"]["format"] for k, v in json.loads(frame.proto.columns).items() if "type_config" in v}
    assert formats == {"accuracy": "percent", "± spread": "percent", "params": "localized", "MACs": "localized"}
    titles = [json.loads(c.proto.spec)["layout"].get("title", {}).get("text", "") for c in at.get("plotly_chart")]
    assert f"Accuracy vs MACs after {load_results(run.path)[0].steps:,} training steps" in titles
    assert any(run.card["command"] == c.value for c in at.code)
    assert at.button(key="scaling.search_rerun").label == "Re-run this search live"
    assert at.button(key="scaling.search_start").label == "Start the search"  # and a search of one's own below


def test_re_running_a_settled_recorded_search_settles_it_the_same_way(monkeypatch):
    """The recorded search gave the networks its verdict rests on more seeds (its card's
    ``settled``): the page says so, and its live re-run does the same (nothing is trained here:
    the background job is made but not started)."""
    from explorer.analysis.runs import RUNS_DIR, recorded_runs
    from explorer.analysis.search import BackgroundSearch, settled_seeds

    (run,), _ = recorded_runs(RUNS_DIR, kind="search")
    seeds = settled_seeds(run.card)
    assert seeds == 8 and len(run.card["settled"]) >= 3
    monkeypatch.setattr(BackgroundSearch, "start", lambda self: self)
    at = open_search(preset="resnet18")
    assert f"(the networks the verdict rests on: {seeds})" in texts(at)
    assert any(f"with seeds 0-{seeds - 1}" in c.value for c in at.caption)
    at.button(key="scaling.search_rerun").click().run()
    assert not at.exception, at.exception
    job = at.session_state["scaling.search_job"]
    assert job.settle == seeds and job.spec == load_results(run.path)[0] and not job.running


def test_a_settling_cancelled_in_this_session_can_be_resumed(monkeypatch):
    """A search whose grid finished but whose settling (more seeds for the networks the verdict rests
    on) was cancelled offers "Resume settling", which settles to the same number of seeds."""
    from explorer.analysis.search import BackgroundSearch, settle_targets, unsettled

    spec = SearchSpec(
        query=SMALL, alphas=(1.2,), betas=(1.1,), gammas=(1.2,), seeds=2, settings=replace(SEARCH, steps=2, batch=8)
    )
    directory = search_directory(spec.key)
    run_search(spec, directory, InlineExecutor())  # the grid, 2 seeds; settling to 3 never ran
    _, results = load_results(directory)
    assert unsettled(results, 3) == settle_targets(results) and unsettled(results, 2) == []
    monkeypatch.setattr(BackgroundSearch, "start", lambda self: self)
    at = AppTest.from_file(APP, default_timeout=300)
    at.query_params["search"] = spec.key
    at.switch_page("pages/scaling.py")
    at.session_state["scaling.search_job"] = BackgroundSearch(spec, directory, InlineExecutor, settle=3)
    at.session_state["scaling.tab"] = "Search"
    at.run()
    assert not at.exception, at.exception
    targets = len(settle_targets(results))
    assert f"Settling stopped: {targets} of the networks the verdict rests on have fewer than 3 seeds" in texts(at)
    resume = at.button(key="scaling.search_resume")
    assert resume.label == "Resume settling"
    resume.click().run()
    job = at.session_state["scaling.search_job"]
    assert job.settle == 3 and job.spec == spec and job.directory == directory
