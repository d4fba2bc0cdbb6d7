"""The block editor in a real browser: open a hybrid, add an MBConv block, see it in the URL, in the
table and in the parameter count."""

from __future__ import annotations

from explorer.config import parse_query
from explorer.measure.profile import profile


def test_adding_a_block_changes_the_link_and_the_model(open_app, page, wait_for_app):
    open_app("/?preset=hybrid_resnet")
    before = page.locator('[data-testid="stMetricValue"]').first.inner_text()
    assert before.strip() == f"{profile(parse_query('preset=hybrid_resnet')).params:,}"

    kind = page.locator(".st-key-composer-kind")
    kind.click()
    page.get_by_role("option", name="mb: mb24.e6.s2").click()
    wait_for_app(page)
    page.locator(".st-key-composer-add button").click()
    wait_for_app(page)

    assert "mb24.s2" in page.url
    expected = profile(parse_query("preset=hybrid_resnet&blocks=res64,res128.s2,res256.s2,mb24.s2"))
    after = page.locator('[data-testid="stMetricValue"]').first.inner_text()
    assert after.strip() == f"{expected.params:,}"
    assert page.locator('[data-testid="stException"]').count() == 0
