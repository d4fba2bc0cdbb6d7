"""The Graph page in a real browser: ResNet-50's graph draws with every shortcut, hover shows the
numbers, and ResNet-1001 opens folded without freezing the page."""

from __future__ import annotations

import time

CHART = '[data-testid="stPlotlyChart"] .js-plotly-plot'


def test_resnet50_graph_renders_and_hovers(open_app, page):
    open_app("/graph?preset=resnet50")
    assert page.locator('[data-testid="stException"]').count() == 0
    chart = page.locator(CHART).first
    chart.wait_for(state="visible", timeout=30_000)
    # the node trace: one marker per layer/op (177 for ResNet-50 unfolded)
    markers = chart.locator(".scatterlayer .trace:last-child .point")
    assert markers.count() >= 170
    assert "skip / dense edge" in chart.inner_text()
    conv1 = markers.nth(1)
    conv1.evaluate("e => e.scrollIntoView({block: 'center'})")  # away from the sticky header
    box = conv1.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)  # plotly's drag layer takes hovers
    hover = page.locator(".hoverlayer .hovertext").first
    hover.wait_for(state="visible", timeout=10_000)
    text = hover.text_content() or ""
    assert "Conv2d" in text and "receptive field: 7×7" in text


def test_resnet1001_opens_folded_quickly(open_app, page):
    start = time.monotonic()
    open_app("/graph?preset=preact_resnet1001")
    elapsed = time.monotonic() - start
    assert page.locator('[data-testid="stException"]').count() == 0
    chart = page.locator(CHART).first
    chart.wait_for(state="visible", timeout=30_000)
    assert "× 110" in chart.inner_text()
    assert chart.locator(".scatterlayer .trace:last-child .point").count() < 100
    assert elapsed < 60, f"first render took {elapsed:.1f} s"
