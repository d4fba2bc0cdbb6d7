"""The Saliency page's checkable parts through AppTest: captum's methods side by side, the sanity strip with
its verdict, the deletion/insertion curves, on the shipped ResNet-8 and a generated shape (64 px: cheap)."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from explorer.analysis.methods import METHODS, Method
from explorer.analysis.sanity_data import PASS_BELOW

APP = str(Path(__file__).resolve().parents[1] / "app.py")
pytestmark = pytest.mark.filterwarnings("ignore:Setting backward hooks on ReLU")


@pytest.fixture
def page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=300)
    at.query_params["preset"] = "resnet20"  # a CIFAR ResNet: the shipped ResNet-8 explains a generated shape
    at.switch_page("pages/saliency.py")
    at.run()
    at.radio(key="saliency.image_source").set_value("Generated shape").run()
    assert not at.exception, at.exception
    return at


def captions(at: AppTest) -> list[str]:
    return [c.value for c in at.caption]


def test_methods_side_by_side_then_the_sanity_strip_then_the_curves(page):
    """One session, the three toggles in turn (each AppTest session costs seconds to open)."""
    methods_side_by_side(page)
    sanity_strip_numbers_and_verdict(page)
    deletion_and_insertion_curves(page)


def methods_side_by_side(page: AppTest) -> None:
    before = len(page.image)
    page.toggle(key="saliency.compare").set_value(True).run()
    assert not page.exception, page.exception
    shown = [m for m in Method if m is not Method.OCCLUSION]
    assert len(page.image) == before + len(shown)
    for method in shown:
        assert any(c.startswith(f"**{METHODS[method].label}**") and "Cost: " in c for c in captions(page)), method
    page.multiselect(key="saliency.methods").select(Method.OCCLUSION).run()  # its window and stride appear
    assert not page.exception, page.exception
    assert page.number_input(key="saliency.window.64").value == 8
    assert any("forward passes (a 8 px window every 4 px), no backward" in c for c in captions(page))


def sanity_strip_numbers_and_verdict(page: AppTest) -> None:
    page.toggle(key="saliency.sanity").set_value(True).run()
    assert not page.exception, page.exception
    assert any("Trained, then randomised head → stem" in c for image in page.image for c in image.captions)
    rows = page.dataframe[-1].value
    assert list(rows["randomised down to"]) == ["head", "stage3", "stage2", "stage1", "stem"]
    assert list(rows["modules"]) == ["fc", "layer3", "layer2", "layer1", "conv1+bn1"]
    verdicts = " ".join(m.value for m in page.markdown)
    for method in (Method.GRADCAM, Method.GRADIENTS, Method.GUIDED_BACKPROP):
        label = METHODS[method].label
        values = rows[label].dropna()
        assert ((values >= -1) & (values <= 1)).all()
        final = rows[label].iloc[-1]
        passed = final != final or final < PASS_BELOW  # NaN: a flat map
        assert f"**{label} {'passes' if passed else 'fails'}**" in verdicts


def deletion_and_insertion_curves(page: AppTest) -> None:
    page.toggle(key="saliency.curves").set_value(True).run()
    assert not page.exception, page.exception
    rows = page.dataframe[-1].value
    assert list(rows["map"]) == ["Grad-CAM", "Gradients", "Integrated Gradients", "Random map"]
    for column in ("deletion AUC (lower: faithful)", "insertion AUC (higher)"):
        assert ((rows[column] >= 0) & (rows[column] <= 1)).all()
    tables = len(page.dataframe)
    page.multiselect(key="saliency.curve_methods").set_value([]).run()  # no map chosen: a hint, no curves
    assert not page.exception, page.exception
    assert "Choose at least one method." in [i.value for i in page.info]
    assert len(page.dataframe) == tables - 1


def test_the_lesson_predict_run_reveal(single_thread):
    at = AppTest.from_file(APP, default_timeout=300)
    at.switch_page("pages/lessons.py")
    at.query_params["lesson"] = "12_saliency_sanity"
    at.run()
    assert at.title[0].value == "Does the map depend on what the network learned?"
    assert at.button(key="lessons.run").disabled  # predict first
    at.radio(key="lessons.predict.12_saliency_sanity").set_value("Guided Backprop").run()
    at.button(key="lessons.run").click().run()
    assert not at.exception, at.exception
    assert any("Guided Backprop" in s.value and "right" in s.value for s in at.success)
    assert "The measured numbers support the claim." in [c.value for c in at.caption]
    assert len(at.get("plotly_chart")) == 1
