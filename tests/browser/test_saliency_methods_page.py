"""The Saliency page's checkable parts in Chromium at a projector's 1280x720: captum's methods side by side and
the sanity strip with its verdict, on the shipped ResNet-8 and a generated shape."""

from __future__ import annotations

from explorer.analysis.methods import METHODS, Method


def test_methods_side_by_side_and_the_sanity_strip(browser, app_url, wait_for_app, tmp_path):
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    try:
        page = context.new_page()
        page.goto(app_url + "/saliency")
        wait_for_app(page)
        page.get_by_role("radiogroup", name="Image from").get_by_text("Generated shape", exact=True).click()
        wait_for_app(page)
        images = page.locator('[data-testid="stImage"]').count()

        page.locator(".st-key-saliency-compare label").click()
        wait_for_app(page, timeout=120)
        assert page.locator('[data-testid="stException"]').count() == 0
        shown = [m for m in Method if m is not Method.OCCLUSION]
        assert page.locator('[data-testid="stImage"]').count() == images + len(shown)
        for method in shown:  # each map's caption: what it computes and what it costs
            assert page.get_by_text(METHODS[method].computes, exact=False).count() == 1, method
        page.screenshot(path=str(tmp_path / "methods.png"), full_page=True)

        page.locator(".st-key-saliency-sanity label").click()
        wait_for_app(page, timeout=120)
        assert page.locator('[data-testid="stException"]').count() == 0
        assert page.get_by_text("Trained, then randomised head → stem", exact=False).count() == 1
        strip = page.locator('[data-testid="stImage"] img').last
        strip.scroll_into_view_if_needed()
        box = strip.bounding_box()
        assert box is not None and box["width"] > 600  # wide enough to read on a projector
        verdicts = page.get_by_text("passes", exact=False).count() + page.get_by_text("fails", exact=False).count()
        assert verdicts >= 3  # one sentence per method checked (Grad-CAM, Gradients, Guided Backprop)
        assert page.locator(".st-key-saliency-sanity_chart").count() == 1
        page.screenshot(path=str(tmp_path / "sanity.png"), full_page=True)
    finally:
        context.close()
