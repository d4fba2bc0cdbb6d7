"""The Scaling lab in a real browser: a shared link answers "phi=3 with beta=1.2 vs B3" in numbers,
pinning the design puts it in the URL, and reopening that URL shows the pin in the Compare tab."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse


def metric_values(page) -> dict[str, str]:
    labels = page.locator('[data-testid="stMetricLabel"]').all_inner_texts()
    values = page.locator('[data-testid="stMetricValue"]').all_inner_texts()
    return {label.strip(): value.strip() for label, value in zip(labels, values, strict=True)}


def test_phi3_link_numbers_pin_and_reopen(open_app, page, wait_for_app):
    open_app("/scaling?family=efficientnet&phi=3&beta=1.2", timeout=180)
    values = metric_values(page)
    assert values["Parameters"] == "26,186,674"
    assert values["MACs"] == "5.26 G"
    assert values["Nearest published"] == "B4"
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.locator(".js-plotly-plot").count() >= 2

    page.get_by_role("tab", name="Compare").click()
    wait_for_app(page, timeout=120)
    page.get_by_role("button", name="Pin the design").click()
    wait_for_app(page, timeout=120)
    pins = parse_qs(urlparse(page.url).query)["pins"]
    assert pins == ["family=efficientnet;phi=3;beta=1.2"]

    open_app(urlparse(page.url).path + "?" + urlparse(page.url).query, timeout=180)
    page.get_by_role("tab", name="Compare").click()
    wait_for_app(page, timeout=120)
    panel = page.locator('[role="tabpanel"]:visible')
    assert panel.locator('[data-testid="stDataFrame"]').count() == 1  # the pinned configs' table
    assert "family=efficientnet&phi=3&beta=1.2" in panel.locator(".st-key-scaling-pinned").inner_text()
    assert page.locator('[data-testid="stException"]').count() == 0


def test_the_search_tab_opens_on_the_recorded_search_and_judges_the_claim(open_app, page, wait_for_app):
    """A class opens the Search tab: the recorded search is there at once (nothing trains), with its
    ranking, the claim judged by the record's own numbers, the table and the accuracy-vs-MACs figure."""
    from explorer.analysis.runs import RUNS_DIR, recorded_runs
    from explorer.analysis.search import PointResult, ranking, verdict
    from explorer.views.search_text import claim_in_words

    (run,), _ = recorded_runs(RUNS_DIR, kind="search")
    results = [PointResult.from_json(p) for p in run.data["points"]]
    ranked = ranking(results)
    outcome, _ = claim_in_words(verdict(results), ranked)
    open_app("/scaling", timeout=180)
    page.get_by_role("tab", name="Search").click()
    wait_for_app(page, timeout=120)
    panel = page.locator('[role="tabpanel"]:visible')
    text = panel.inner_text()
    assert f"Recorded search: {run.title}." in text
    assert f"Winner: {ranked.winner.point.label}, {ranked.winner.accuracy:.1%}" in text
    said = {"holds": "the claim holds here.", "refuted": "here the claim is refuted.",
            "not shown": "these numbers neither show nor refute the claim."}[outcome]  # fmt: skip
    assert said in text
    assert panel.locator('[data-testid="stDataFrame"]').count() >= 1
    assert panel.locator(".js-plotly-plot").count() >= 1
    assert page.locator('[data-testid="stException"]').count() == 0
    assert panel.get_by_role("button", name="Re-run this search live").is_enabled()
