"""The Build page in a real browser: move a slider, see the numbers change; open a shared link.

Also refreshes the README's screenshot (assets/build-page.png), so the picture stays current.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from explorer.config import parse_query
from explorer.measure.profile import profile

SCREENSHOT = Path(__file__).resolve().parents[2] / "assets" / "build-page.png"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "assets" / "screens"
PRESENTER = "/lessons?lesson=02_degradation&present=on"


def metric_values(page) -> dict[str, str]:
    labels = page.locator('[data-testid="stMetricLabel"]').all_inner_texts()
    values = page.locator('[data-testid="stMetricValue"]').all_inner_texts()
    return {label.strip(): value.strip() for label, value in zip(labels, values, strict=True)}


def test_slider_changes_numbers_and_link_opens_resnet50(open_app, page, wait_for_app):
    open_app()
    assert metric_values(page)["Parameters"] == "11,689,512"

    # Keyboard on the depth slider's thumb: one step right from 18 is ResNet-26 (bottleneck blocks).
    thumb = page.locator(".st-key-knob-resnet-depth input[type='range']")
    thumb.focus()
    page.keyboard.press("ArrowRight")
    # The rerun may start later than wait_for_app's first look on a busy machine: the link changes
    # only once it has run.
    page.wait_for_function("() => location.search.includes('depth=26')", timeout=60_000)
    wait_for_app(page)
    expected = profile(parse_query("family=resnet&depth=26"))
    assert metric_values(page)["Parameters"] == f"{expected.params:,}"
    assert "depth=26" in page.url
    assert page.locator('[data-testid="stException"]').count() == 0

    # The same URL in a new visit shows the same model: the link is the configuration.
    open_app("/?preset=resnet50")
    assert metric_values(page)["Parameters"] == "25,557,032"
    assert page.locator("h1").first.inner_text().startswith("ResNet: preset=resnet50")
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT))


def test_shared_link_with_an_error_shows_the_reason(open_app, page):
    open_app("/?family=resnet&depth=51")
    alert = page.locator('[data-testid="stAlert"]').first
    alert.wait_for(timeout=120_000)
    error = alert.inner_text()
    assert "depth=51 is not an ImageNet ResNet depth" in error
    assert page.locator('[data-testid="stException"]').count() == 0


#: A projector, a laptop, a desktop screen.
SCREENS = ((1280, 720), (1500, 1000), (1920, 1080))
_CUT_JS = "e => [e, ...e.querySelectorAll('*')].some(c => c.scrollWidth > c.clientWidth + 1)"


#: The views whose headline numbers a class reads off a projector.
VIEWS = (("build", "/?preset=resnet50"), ("scaling", "/scaling"), ("presenter", PRESENTER))


@pytest.mark.parametrize(("name", "path"), VIEWS)
def test_headline_numbers_are_whole_on_every_screen(browser, app_url, wait_for_app, name, path):
    """No headline number, its label or a widget's label is cut ("11,68…", "Presenter m…") at these
    window sizes, on the Build page, the Scaling lab and a lesson in presenter mode; the screenshots are
    retaken on every run. One page per view, resized as a projector's window would be (the layout is
    CSS: it follows the window without a rerun)."""
    width, height = SCREENS[0]
    context = browser.new_context(viewport={"width": width, "height": height})
    try:
        page = context.new_page()
        page.goto(app_url + path)
        wait_for_app(page)
        for width, height in SCREENS:
            page.set_viewport_size({"width": width, "height": height})
            page.wait_for_timeout(500)  # the layout and the charts' own resize (debounced) settle
            wait_for_app(page)
            values = page.locator(
                '[data-testid="stMetricValue"], [data-testid="stMetricLabel"], [data-testid="stWidgetLabel"]'
            )
            assert values.count() >= 3 if name == "presenter" else values.count() >= 10, (name, width)
            cut = [v.inner_text() for v in values.all() if v.evaluate(_CUT_JS)]
            assert not cut, (name, width, cut)
            SCREENSHOTS.mkdir(exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}x{height}.png"))
            assert metric_values(page)  # the numbers read whole in the tally and the headline
    finally:
        context.close()
