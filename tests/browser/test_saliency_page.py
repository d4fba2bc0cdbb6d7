"""The Saliency page in a real browser: upload an image and a checkpoint, see the Grad-CAM overlay."""

from __future__ import annotations

import torch

from explorer.config import parse_query
from explorer.data.samples import shape_image
from explorer.families import build


def test_upload_image_and_checkpoint_shows_overlay(open_app, page, wait_for_app, tmp_path):
    image = tmp_path / "shape.png"
    shape_image(5, 96).save(image)
    checkpoint = tmp_path / "resnet20.pt"
    torch.manual_seed(0)
    torch.save(build(parse_query("preset=resnet20")).module.state_dict(), checkpoint)

    open_app("/saliency?preset=resnet20")
    page.get_by_role("radiogroup", name="Image from").get_by_text("Upload", exact=True).click()
    wait_for_app(page)
    page.locator(".st-key-saliency-upload input[type='file']").set_input_files(str(image))
    wait_for_app(page)
    page.get_by_role("radiogroup", name="Weights").get_by_text("Uploaded checkpoint", exact=True).click()
    wait_for_app(page)
    page.locator(".st-key-saliency-checkpoint-0 input[type='file']").set_input_files(str(checkpoint))
    wait_for_app(page)

    assert page.locator('[data-testid="stException"]').count() == 0
    # A page's link opened first on a fresh server still runs through app.py's router:
    navigation = page.locator('[data-testid="stSidebarNav"]')
    assert navigation.get_by_text("Build", exact=True).count() == 1
    assert navigation.get_by_text("shared", exact=True).count() == 0
    assert page.get_by_text("Weights: uploaded checkpoint 'resnet20.pt' (loaded 116 tensors)").count() == 1
    assert page.locator('[data-testid="stImage"]').count() >= 3
    assert page.get_by_text("Overlay: class").count() == 1
    # the file was let go of once loaded: a fresh uploader in its place, the model kept
    assert page.locator(".st-key-saliency-checkpoint-1 input[type='file']").count() == 1
    page.screenshot(path=str(tmp_path / "saliency.png"))
