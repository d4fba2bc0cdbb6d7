"""The Lessons page in a real browser: open one lesson by its link, predict, run, see the reveal, follow
a link into Build with the lesson's model."""

from __future__ import annotations

import os
import time

import pytest


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


@pytest.mark.slow
def test_degradation_predicted_run_and_judged(open_app, page, wait_for_app):
    """Lesson 02 live (9 short trainings, about 40 s on two idle cores): predicting plain-56 is right,
    predicting residual-56 (the same run, from the cache) is not; the recorded long run is shown too."""
    open_app("/lessons?lesson=02_degradation")
    page.locator(".st-key-lessons-predict-02_degradation label", has_text="plain-56").first.click()
    wait_for_app(page)
    started = time.perf_counter()
    page.locator(".st-key-lessons-run button:visible").first.click()
    wait_for_app(page, timeout=600)
    print(f"lesson 02 ran in {time.perf_counter() - started:.1f} s (load average {os.getloadavg()[0]:.2f})")
    alerts = " ".join(page.locator('[data-testid="stAlert"]').all_inner_texts())
    assert "You predicted plain-56; the measurement says plain-56: right." in alerts
    assert "The recorded numbers show the claim" in alerts
    assert page.locator('[data-testid="stException"]').count() == 0

    page.locator(".st-key-lessons-predict-02_degradation label", has_text="residual-56").first.click()
    wait_for_app(page)
    page.locator(".st-key-lessons-run button:visible").first.click()
    wait_for_app(page, timeout=120)
    verdict = page.locator('[data-testid="stAlert"]', has_text="You predicted residual-56")
    verdict.first.wait_for(timeout=120_000)
    assert "You predicted residual-56; the measurement says plain-56: not this time." in verdict.first.inner_text()
