"""The real app comes up in a real browser: right title, no exception on the landing page."""


def test_app_loads_without_exception(open_app, page):
    open_app()
    assert "CNN Architecture Explorer" in page.title()
    assert page.locator('[data-testid="stException"]').count() == 0
