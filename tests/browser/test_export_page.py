"""The Build page's Export tab in a real browser: from a link to a file in two clicks (the tab, the
download), and a ``.pt2`` made on click."""

from __future__ import annotations

import runpy


def test_export_tab_shows_code_and_downloads_it(open_app, page, wait_for_app, tmp_path):
    open_app("/?family=efficientnet&phi=3&beta=1.2")
    page.get_by_role("tab", name="Export").click()
    wait_for_app(page)
    code = page.locator('[data-testid="stCode"]').filter(has_text="def build_model").first
    assert "Query:       family=efficientnet&phi=3&beta=1.2" in code.inner_text()
    assert page.locator('[data-testid="stException"]').count() == 0

    with page.expect_download() as info:
        page.get_by_role("button", name="Download code (.py)").click()
    download = info.value
    assert download.suggested_filename == "efficientnet_phi_3_beta_1.2.py"
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    assert "width_mult = 1.2 ** 3.0  # beta ** phi" in path.read_text()
    assert callable(runpy.run_path(str(path))["build_model"])

    page.get_by_role("button", name="Make torch.export (.pt2)").click()
    download_pt2 = page.get_by_role("button", name="Download torch.export (.pt2)")
    download_pt2.wait_for(timeout=180_000)  # torch.export of EfficientNet-B3: tens of seconds on a busy CPU
    wait_for_app(page, timeout=120)
    with page.expect_download(timeout=60_000) as info:
        download_pt2.click()
    assert info.value.suggested_filename == "efficientnet_phi_3_beta_1.2.pt2"
