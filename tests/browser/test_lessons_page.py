"""The Lessons page in a real browser: open one lesson by its link, predict, run, see the reveal, follow
a link into Build with the lesson's model."""

from __future__ import annotations


def test_walk_one_lesson(open_app, page, wait_for_app):
    open_app("/lessons?lesson=08_memory_paths")
    assert page.locator("h1").first.inner_text() == "The memory cost of residual and dense paths"
    assert page.locator('[data-testid="stPlotlyChart"]').count() == 0
    run = page.locator(".st-key-lessons-run button:visible").first
    assert run.is_disabled()  # predict first

    page.locator(".st-key-lessons-predict-08_memory_paths label", has_text="densenet121").first.click()
    wait_for_app(page)
    run.click()
    wait_for_app(page, timeout=90)
    alerts = " ".join(page.locator('[data-testid="stAlert"]').all_inner_texts())
    assert "You predicted densenet121; the measurement says densenet121: right." in alerts
    assert page.locator('[data-testid="stPlotlyChart"]').count() == 1
    assert page.locator('[data-testid="stMetricValue"]', has_text="1 of 1").count() == 1
    assert page.locator('[data-testid="stException"]').count() == 0

    page.locator("a", has_text="Build — densenet121").first.click()
    wait_for_app(page)
    assert page.url.endswith("/?preset=densenet121")  # Build is the default page: its path is the root
    assert page.locator('[data-testid="stMetricValue"]', has_text="7,978,856").count() == 1
