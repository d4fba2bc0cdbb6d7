"""A photo in a real browser, offline: uploaded, it is explained at once by a real ImageNet model
(EfficientNet-Lite0 from its package, the test server's torch cache being empty) with an ImageNet
class and a map that peaks on the object."""

from __future__ import annotations

import re
import time

from explorer.data.samples import SAMPLE_DIR

#: The cup with its rim in the 224 x 224 crop the model sees, (x0, y0, x1, y1), as in test_imagenet_lite0.
CUP = (40, 8, 176, 144)


def test_an_uploaded_photo_gets_an_imagenet_class_and_a_map_on_the_object(open_app, page, wait_for_app):
    start = time.perf_counter()
    open_app("/saliency")  # the default config, resnet18: its ImageNet weights are not in the torch cache
    opened = time.perf_counter() - start
    assert page.get_by_text("ImageNet: EfficientNet-Lite0 (offline)").count() == 1
    assert page.get_by_text("Overlay: Egyptian cat").count() == 1  # the sample: Chelsea the cat
    print(f"open Saliency -> the cat's ImageNet map (Lite0 loaded on first use): {opened:.2f} s")
    page.get_by_role("radiogroup", name="Image from").get_by_text("Upload", exact=True).click()
    wait_for_app(page)
    start = time.perf_counter()
    page.locator(".st-key-saliency-upload input[type='file']").set_input_files(str(SAMPLE_DIR / "coffee.png"))
    wait_for_app(page)
    seconds = time.perf_counter() - start
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.get_by_text("Weights: ImageNet weights: EfficientNet-Lite0 from the package", exact=False).count() == 1
    assert page.get_by_text("Overlay: espresso").count() == 1
    assert page.locator('[data-testid="stImage"]').count() >= 3
    caption = page.get_by_text(re.compile(r"Grad-CAM at features\.7, peak at x \d+, y \d+")).inner_text()
    x, y = (int(v) for v in re.findall(r"\d+", caption.split("peak at")[1]))
    assert CUP[0] <= x < CUP[2] and CUP[1] <= y < CUP[3], caption
    print(f"upload -> ImageNet map in the browser (EfficientNet-Lite0): {seconds:.2f} s")
    start = time.perf_counter()
    open_app("/saliency")  # a new session on the warm server: the cat sample, Lite0 already loaded
    again = time.perf_counter() - start
    assert page.get_by_text("Overlay: Egyptian cat").count() == 1
    print(f"open Saliency again (warm server) -> the cat's ImageNet map: {again:.2f} s")
    assert seconds < 20  # the 2 s goal is measured in bench/README.md, not asserted on a shared CI
