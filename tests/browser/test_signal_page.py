"""The Signal Flow page in a real browser: the curves are drawn; Train streams the loss and the curves
while it runs (the plotted loss grows step by step); Stop ends it and the scrubber appears."""

from __future__ import annotations

import re
import time

TINY = "/signal?family=plain&depth=8&width=4&resolution=16"
LOSS_POINTS_JS = """() => {
  for (const plot of document.querySelectorAll('.js-plotly-plot')) {
    const trace = (plot.data || []).find(t => t.name === 'loss');
    if (trace) return trace.x.length;
  }
  return 0;
}"""


def _wait(page, predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        page.wait_for_timeout(100)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def _progress_step(page) -> int:
    texts = page.locator('[data-testid="stProgress"]').all_inner_texts()
    match = re.search(r"Step (\d+)/", " ".join(texts))
    return int(match.group(1)) if match else 0


def test_training_streams_curves_and_stops(open_app, page, wait_for_app):
    open_app(TINY)
    assert page.locator("h1").first.inner_text() == "Signal flow"
    assert page.locator('[data-testid="stPlotlyChart"]').count() == 2
    assert page.locator('[data-testid="stException"]').count() == 0

    # The longest run (500 steps), so that it is still going when we look, and when we stop it.
    thumb = page.locator(".st-key-train-steps input[type='range']")
    thumb.focus()
    page.keyboard.press("End")
    wait_for_app(page)
    assert page.locator('.st-key-train-steps [data-testid="stSliderThumbValue"]').inner_text() == "500"

    page.locator(".st-key-train-start button:visible").first.click()
    first = _wait(page, lambda: page.evaluate(LOSS_POINTS_JS), 90, "the live loss curve")
    later = _wait(page, lambda: (n := page.evaluate(LOSS_POINTS_JS)) > first and n, 90, "the loss curve to grow")
    assert later > first
    # The progress bar and the chart are separate messages: on a busy machine the bar's text can lag.
    _wait(page, lambda: _progress_step(page) >= later, 30, "the progress bar to reach the loss curve's step")
    assert page.locator('[data-testid="stPlotlyChart"]').count() >= 4  # the curves above, live loss, live curves

    page.locator(".st-key-train-stop button:visible").first.click()
    wait_for_app(page, timeout=90)
    info = " ".join(page.locator('[data-testid="stAlert"]').all_inner_texts())
    stopped = int(re.search(r"Stopped at step (\d+) of 500", info).group(1))
    assert later <= stopped < 500
    assert page.locator(".st-key-train-scrub").count() == 1
    assert page.locator('[data-testid="stException"]').count() == 0
