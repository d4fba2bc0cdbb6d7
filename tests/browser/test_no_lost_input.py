"""Every slider move is applied, whatever the server is doing at that moment.

On a fresh server the first page draws before PyTorch is imported; seconds later the device picker's
fragment imports it (holding a core) and reruns the app, and the first runs with torch are slow. A
move made then used to be lost in two ways: a rerun asked for before the browser had the URL the
previous move wrote brought the old URL back and reset the widgets (2 of 6 tries at 6 to 8 s); and,
rarer (once in three full-suite runs, once in 10 tries under load), a run the next key press stopped
at its URL write left the session's remembered config one move behind, so the next run took the old
URL for a stale one of its own and reset the slider (the whole move lost; checked deterministically by
``tests/test_app_build.py::test_a_move_whose_run_stopped_at_the_url_write_is_not_lost``). Each try
here starts a server of its own, so each move lands at a different moment of that start.
"""

from __future__ import annotations

import time

import pytest

from explorer.config import parse_query
from explorer.measure.profile import profile

#: Seconds after the first numbers appear at which the depth slider is moved (3 steps right): before,
#: during and after the picker's torch import and first slow runs (the two losses were seen at 6 to 9 s);
#: each moment costs a fresh server (about 20 s), and the suite has a 15-minute budget.
MOMENTS = (0.0, 3.0, 6.5, 9.0)


def _parameters(page) -> str:
    labels = page.locator('[data-testid="stMetricLabel"]').all_inner_texts()
    values = page.locator('[data-testid="stMetricValue"]').all_inner_texts()
    return dict(zip((x.strip() for x in labels), (v.strip() for v in values), strict=True))["Parameters"]


@pytest.mark.parametrize("moment", MOMENTS)
def test_a_slider_move_on_a_fresh_server_is_never_lost(browser, streamlit_server, wait_for_app, moment):
    expected = f"{profile(parse_query('preset=resnet50')).params:,}"  # depth 18 -> 26 -> 34 -> 50
    with streamlit_server() as url:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        try:
            page = context.new_page()
            page.goto(url + "/")
            page.wait_for_selector('[data-testid="stMetricValue"]', timeout=60_000)
            shown = time.monotonic()
            assert _parameters(page) == "11,689,512"
            page.wait_for_timeout(moment * 1000)
            thumb = page.locator(".st-key-knob-resnet-depth input[type='range']")
            thumb.focus()
            for _ in range(3):
                page.keyboard.press("ArrowRight")
            moved_at = time.monotonic() - shown
            # settle: the moves' runs, then the device picker's rerun if it has not come yet
            deadline = time.monotonic() + 60
            while page.locator("text=Models run on").count() == 0 and time.monotonic() < deadline:
                page.wait_for_timeout(200)
            page.wait_for_timeout(1000)
            wait_for_app(page)
            assert page.url.endswith("/?preset=resnet50"), (moment, moved_at, page.url)
            assert _parameters(page) == expected, (moment, moved_at)
            assert page.locator('[data-testid="stException"]').count() == 0
        finally:
            context.close()
