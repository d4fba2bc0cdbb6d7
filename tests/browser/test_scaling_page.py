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
