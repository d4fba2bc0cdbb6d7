"""The Build page in a real browser: move a slider, see the numbers change; open a shared link.

Also refreshes the README's screenshot (assets/build-page.png), so the picture stays current.
"""

from __future__ import annotations

from pathlib import Path

from explorer.analysis.profile import profile
from explorer.config import parse_query

SCREENSHOT = Path(__file__).resolve().parents[2] / "assets" / "build-page.png"


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
    error = page.locator('[data-testid="stAlert"]').first.inner_text()
    assert "depth=51 is not an ImageNet ResNet depth" in error
    assert page.locator('[data-testid="stException"]').count() == 0
