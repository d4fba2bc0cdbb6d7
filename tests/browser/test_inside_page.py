"""The Inside page in a real browser at 1280x720: upload a photo, move the layer slider, open a channel."""

from __future__ import annotations

import re

from explorer.data.samples import SAMPLE_DIR


def test_upload_move_the_layer_and_open_a_channel(browser, app_url, wait_for_app, tmp_path):
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    try:
        page = context.new_page()
        page.goto(f"{app_url}/inside")
        wait_for_app(page, timeout=120)
        page.get_by_role("radiogroup", name="Image from").get_by_text("Upload", exact=True).click()
        wait_for_app(page)
        page.locator(".st-key-inside-upload input[type='file']").set_input_files(str(SAMPLE_DIR / "coffee.png"))
        wait_for_app(page, timeout=120)
        assert page.get_by_text("Fresh weights (untrained)").count() == 1  # the sidebar's ResNet-18 itself
        page.get_by_role("radiogroup", name="Weights").get_by_text("ImageNet: EfficientNet-Lite0 (offline)").click()
        wait_for_app(page, timeout=120)
        assert not page.locator('[data-testid="stException"]').all_inner_texts()
        page.screenshot(path=str(tmp_path / "inside-upload.png"), full_page=True)
        heading = page.get_by_text(re.compile(r"^features\.7\.0: 320 channels of 7×7$"))
        assert heading.count() == 1  # EfficientNet-Lite0's last block: a real ImageNet model, offline
        page.screenshot(path=str(tmp_path / "inside-last.png"))

        thumb = page.locator(".st-key-inside-layer-preset-efficientnet_lite0 input[type='range']")
        thumb.focus()
        for _ in range(6):  # six places back along the depth: a block of stage 5
            page.keyboard.press("ArrowLeft")
        wait_for_app(page, timeout=120)
        assert not page.locator('[data-testid="stException"]').all_inner_texts()
        assert page.get_by_text(re.compile(r"^features\.5\.\d: 112 channels of 14×14$")).count() == 1
        assert page.get_by_text(re.compile(r"of \d+ channels, row by row")).count() == 1

        page.get_by_label("Open channel").click()
        page.get_by_role("option").nth(2).click()  # the third most active channel
        wait_for_app(page, timeout=120)
        assert not page.locator('[data-testid="stException"]').all_inner_texts()
        assert page.get_by_text(re.compile(r"Channel \d+ of features\.5\.\d, 14×14 enlarged to 224×224")).count() == 1
        assert page.get_by_text("RMS radius", exact=False).count() >= 1
        page.screenshot(path=str(tmp_path / "inside-channel.png"), full_page=True)
    finally:
        context.close()
