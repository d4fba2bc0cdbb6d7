"""The Saliency page through AppTest: image sources, the four kinds of weights (shipped first when
ImageNet's are not cached), clear errors."""

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
from explorer.data.samples import shape_image
from explorer.data.shapes import CLASSES
from explorer.families import build
from explorer.runtime.shipped import shipped_for

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


def weights(at: AppTest):
    """The Weights radio (its key names its choices, which depend on the config)."""
    return next(r for r in at.radio if r.label == "Weights")


@pytest.fixture
def empty_torch_cache(tmp_path):
    """No ImageNet weights in the torch cache (and no cached model from another test)."""
    st.cache_resource.clear()
    previous = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path))
    yield tmp_path
    torch.hub.set_dir(previous)


def test_without_weights_the_page_asks_for_them():
    at = open_saliency(family="plain", depth="8")  # no shipped plain net, no ImageNet weights
    assert any("Choose an image and weights" in i.value for i in at.info)
    assert "ImageNet weights exist for torchvision's own models" in captions(at)
    assert weights(at).options == ["Uploaded checkpoint", "Trained here on shapes"]


def test_offline_the_shipped_model_is_the_default_and_an_upload_gets_a_map_at_once(empty_torch_cache):
    at = open_saliency(preset="resnet18")
    assert weights(at).options[:2] == ["Shipped model (trained on shapes)", "ImageNet weights"]
    assert weights(at).value == "Shipped model (trained on shapes)"
    assert "ImageNet weights for resnet18 are not in the torch cache" in captions(at)
    at.radio(key="saliency.image_source").set_value("Upload").run()
    at.file_uploader(key="saliency.upload").set_value(("shape.png", png(shape_image(11, 120)), "image/png"))
    at.run()  # no other click
    assert not at.exception, at.exception
    assert "Weights: shipped model 'resnet8-cifar'" in captions(at)
    assert f"The shipped resnet model is `{shipped_for(parse_query('preset=resnet18')).query}`" in captions(at)
    assert len(at.image) >= 3
    names = at.dataframe[0].value["class"]
    assert set(names) <= set(CLASSES) and len(names) == 5


def test_a_cifar_resnet_opens_on_the_shipped_model_with_a_sample():
    at = open_saliency(preset="resnet20")  # not one of torchvision's: no ImageNet choice at all
    assert weights(at).value == "Shipped model (trained on shapes)"
    assert len(at.image) >= 3 and "Weights: shipped model" in captions(at)


@pytest.mark.parametrize(
    ("query", "name"),
    [({"preset": "densenet121"}, "densenet_bc40-k12"), ({"preset": "mobilenet_v2"}, "mobilenet_v2-a035")],
)
def test_each_family_with_a_shipped_model_opens_on_it_offline(query, name, empty_torch_cache):
    at = open_saliency(**query)
    assert weights(at).value == "Shipped model (trained on shapes)"
    assert f"Weights: shipped model '{name}'" in captions(at)
    assert len(at.image) >= 3  # the sample picture, its map, the overlay


def test_uploaded_checkpoint_and_image_give_three_pictures_and_top5():
    at = open_saliency(preset="resnet20")
    at.radio(key="saliency.image_source").set_value("Upload").run()
    at.file_uploader(key="saliency.upload").set_value(("red.png", png(Image.new("RGB", (80, 60), "red")), "image/png"))
    weights(at).set_value("Uploaded checkpoint").run()
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
    weights(at).set_value("Uploaded checkpoint").run()
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
        assert weights(at).value == "ImageNet weights"  # cached: the default
        assert "Weights: ImageNet weights from torchvision (resnet18, 69.8% top-1 as published)" in captions(at)
        names = set(at.dataframe[0].value["class"])
        assert names <= set(torchvision.models.ResNet18_Weights.DEFAULT.meta["categories"])
    finally:
        torch.hub.set_dir(previous)


def test_imagenet_weights_missing_offline_say_where_to_put_them(empty_torch_cache):
    at = open_saliency(preset="resnet18")
    weights(at).set_value("ImageNet weights").run()
    message = " ".join(e.value for e in at.error)
    assert "put the file at" in message and "resnet18-f37072fd.pth" in message
    assert at.button(key="saliency.download").label == "Download resnet18 weights"


@pytest.mark.slow
def test_training_on_shapes_then_explaining_a_generated_shape():
    at = open_saliency(preset="resnet20")
    at.radio(key="saliency.image_source").set_value("Generated shape").run()
    weights(at).set_value("Trained here on shapes").run()
    at.slider(key="saliency.budget").set_value(10).run()
    at.button(key="saliency.train").click().run()
    assert not at.exception, at.exception
    assert "Weights: trained here on generated shapes" in captions(at)
    assert "held-out images" in captions(at)
    assert set(at.dataframe[0].value["class"]) <= set(CLASSES)


@pytest.mark.slow
def test_train_on_shapes_warm_starts_from_the_matching_shipped_model():
    at = open_saliency(family="resnet", stem="cifar", depth="8", width="16")
    weights(at).set_value("Trained here on shapes").run()
    assert "Training starts from the shipped model 'resnet8-cifar'" in captions(at)
    at.slider(key="saliency.budget").set_value(10).run()
    at.button(key="saliency.train").click().run()
    assert not at.exception, at.exception
    caption = next(c.value for c in at.caption if c.value.startswith("Weights: trained here"))
    accuracy = int(caption.split("(")[-1].split("%")[0])
    assert accuracy >= 80, caption  # the bar for a default run; from scratch 10 s gives ~chance


def test_a_new_picture_is_explained_for_its_own_top_class_not_the_last_pictures_choice(empty_torch_cache):
    """The explained class is per picture: picking one for a picture, then uploading another, explains
    the new picture's top prediction (the pick was kept before, and a star was shown as an L-shape)."""
    at = open_saliency(preset="resnet18")
    explain = next(s for s in at.selectbox if s.label == "Explain class")
    explain.select_index(len(explain.options) - 1).run()  # the sample's fifth class
    picked = next(s for s in at.selectbox if s.label == "Explain class")
    assert picked.index == len(picked.options) - 1 and picked.value != 3
    at.radio(key="saliency.image_source").set_value("Upload").run()
    at.file_uploader(key="saliency.upload").set_value(("star.png", png(shape_image(21, 256, "star")), "image/png"))
    at.run()
    assert not at.exception, at.exception
    chosen = next(s for s in at.selectbox if s.label == "Explain class")
    assert chosen.value == 3 and chosen.options[0] == "star (#3)"
