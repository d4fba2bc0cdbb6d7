"""The Saliency page through AppTest: image sources, the three kinds of weights, clear errors."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import streamlit as st
import torch
import torchvision
from PIL import Image
from streamlit.testing.v1 import AppTest

from explorer.config import parse_query
from explorer.families import build

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def open_saliency(**query: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=300)
    for key, value in query.items():
        at.query_params[key] = value
    at.switch_page("pages/saliency.py")
    at.run()
    assert not at.exception, at.exception
    return at


def png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def state_dict_bytes(query: str) -> bytes:
    torch.manual_seed(0)
    buffer = io.BytesIO()
    torch.save(build(parse_query(query)).module.state_dict(), buffer)
    return buffer.getvalue()


def captions(at: AppTest) -> str:
    return " | ".join(c.value for c in at.caption)


def test_without_weights_the_page_asks_for_them():
    at = open_saliency(preset="resnet20")
    assert any("Choose an image and weights" in i.value for i in at.info)
    assert "ImageNet weights exist for torchvision's own models" in captions(at)
    assert at.radio(key="saliency.weights.False").options == ["Uploaded checkpoint", "Trained here on shapes"]


def test_uploaded_checkpoint_and_image_give_three_pictures_and_top5():
    at = open_saliency(preset="resnet20")
    at.radio(key="saliency.image_source").set_value("Upload").run()
    at.file_uploader(key="saliency.upload").set_value(("red.png", png(Image.new("RGB", (80, 60), "red")), "image/png"))
    at.radio(key="saliency.weights.False").set_value("Uploaded checkpoint").run()
    at.file_uploader(key="saliency.checkpoint").set_value(
        ("r20.pt", state_dict_bytes("preset=resnet20"), "application/octet-stream")
    )
    at.run()
    assert not at.exception, at.exception
    assert "Weights: uploaded checkpoint 'r20.pt' (loaded 116 tensors)" in captions(at)
    assert len(at.image) >= 3
    assert len(at.dataframe[0].value["class"]) == 5
    at.toggle(key="saliency.strip").set_value(True).run()
    assert len(at.image) >= 3 + 4  # one overlay per stage (stem and three stages)


def test_checkpoint_with_foreign_keys_is_reported_not_fatal():
    at = open_saliency(preset="resnet20")
    at.radio(key="saliency.weights.False").set_value("Uploaded checkpoint").run()
    at.file_uploader(key="saliency.checkpoint").set_value(("other.pt", state_dict_bytes("preset=resnet32"), "x"))
    at.run()
    assert not at.exception
    assert "in the file but not in the model" in captions(at)


def test_corrupt_upload_gets_one_clear_error():
    at = open_saliency(preset="resnet20")
    at.radio(key="saliency.image_source").set_value("Upload").run()
    at.file_uploader(key="saliency.upload").set_value(("broken.png", png(Image.new("RGB", (64, 64)))[:70], "image/png"))
    at.run()
    assert not at.exception
    assert any("This image cannot be used" in e.value and "truncated or corrupt" in e.value for e in at.error)


def test_imagenet_weights_from_the_local_cache_show_imagenet_class_names(tmp_path):
    st.cache_resource.clear()  # the page caches loaded ImageNet models across sessions
    previous = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path))
    try:
        (tmp_path / "checkpoints").mkdir()
        torch.manual_seed(0)
        torch.save(torchvision.models.resnet18().state_dict(), tmp_path / "checkpoints" / "resnet18-f37072fd.pth")
        at = open_saliency(preset="resnet18")
        assert at.radio(key="saliency.weights.True").value == "ImageNet weights"
        assert "Weights: ImageNet weights from torchvision (resnet18, 69.8% top-1 as published)" in captions(at)
        names = set(at.dataframe[0].value["class"])
        assert names <= set(torchvision.models.ResNet18_Weights.DEFAULT.meta["categories"])
    finally:
        torch.hub.set_dir(previous)


def test_imagenet_weights_missing_offline_say_where_to_put_them(tmp_path):
    st.cache_resource.clear()  # the page caches loaded ImageNet models across sessions
    previous = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path))
    try:
        at = open_saliency(preset="resnet18")
        message = " ".join(e.value for e in at.error)
        assert "put the file at" in message and "resnet18-f37072fd.pth" in message
        assert at.button(key="saliency.download").label == "Download resnet18 weights"
    finally:
        torch.hub.set_dir(previous)


@pytest.mark.slow
def test_training_on_shapes_then_explaining_a_generated_shape():
    at = open_saliency(preset="resnet20")
    at.radio(key="saliency.image_source").set_value("Generated shape").run()
    at.radio(key="saliency.weights.False").set_value("Trained here on shapes").run()
    at.slider(key="saliency.budget").set_value(10).run()
    at.button(key="saliency.train").click().run()
    assert not at.exception, at.exception
    assert "Weights: trained here on generated shapes" in captions(at)
    assert "held-out images" in captions(at)
    assert set(at.dataframe[0].value["class"]) <= {
        "circle",
        "square",
        "triangle",
        "star",
        "cross",
        "hexagon",
        "ring",
        "diamond",
    }
