"""The Saliency page through AppTest: image sources, the kinds of weights (for a photo a real ImageNet
model on the machine, cached torchvision weights else EfficientNet-Lite0 from its package; for a
generated shape the shipped model), clear errors."""

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
from explorer.data.samples import SAMPLE_DIR
from explorer.data.shapes import CLASSES
from explorer.families import build
from explorer.runtime.shipped import shipped_for
from explorer.views.weights import SALIENCY_LABELS, WeightsSource

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


LITE0 = SALIENCY_LABELS[WeightsSource.LITE0]
SHIPPED = SALIENCY_LABELS[WeightsSource.SHIPPED]


def generated_shape(at: AppTest) -> AppTest:
    at.radio(key="saliency.image_source").set_value("Generated shape").run()
    assert not at.exception, at.exception
    return at


def test_without_weights_a_photo_gets_lite0_and_a_shape_asks_for_weights():
    at = open_saliency(family="plain", depth="8")  # no shipped plain net, no ImageNet weights
    assert weights(at).options == [LITE0, "Uploaded checkpoint", "Trained here on shapes"]
    assert "Weights: ImageNet weights: EfficientNet-Lite0 from the package" in captions(at)
    assert at.dataframe[0].value["class"][0] == "Egyptian cat"  # the sample: Chelsea the cat
    generated_shape(at)
    assert weights(at).options == ["Uploaded checkpoint", "Trained here on shapes", LITE0]
    assert any("Choose an image and weights" in i.value for i in at.info)
    assert "ImageNet weights exist for torchvision's own models" in captions(at)


def test_offline_a_photo_is_explained_by_lite0_and_an_upload_gets_a_map_at_once(empty_torch_cache):
    at = open_saliency(preset="resnet18")
    assert weights(at).options[:3] == [LITE0, SHIPPED, "ImageNet weights"]
    assert weights(at).value is WeightsSource.LITE0
    assert "ImageNet weights for resnet18 are not in the torch cache" in captions(at)
    assert "EfficientNet-Lite0 from its package (`preset=resnet18` has no ImageNet weights" in captions(at)
    assert list(at.dataframe[0].value["class"][:3]) == ["Egyptian cat", "tiger cat", "tabby"]
    assert any("Overlay: Egyptian cat" in i.captions for i in at.image)
    at.radio(key="saliency.image_source").set_value("Upload").run()
    coffee = (SAMPLE_DIR / "coffee.png").read_bytes()
    at.file_uploader(key="saliency.upload").set_value(("coffee.png", coffee, "image/png"))
    at.run()  # no other click
    assert not at.exception, at.exception
    assert "Weights: ImageNet weights: EfficientNet-Lite0" in captions(at)
    assert len(at.image) >= 3 and at.dataframe[0].value["class"][0] == "espresso"
    layer = next(s for s in at.selectbox if s.label == "Layer")
    assert layer.value == "features.7"


def test_offline_a_generated_shape_is_explained_by_the_shipped_model(empty_torch_cache):
    at = generated_shape(open_saliency(preset="resnet18"))
    assert weights(at).options[:2] == [SHIPPED, "ImageNet weights"] and weights(at).options[-1] == LITE0
    assert weights(at).value is WeightsSource.SHIPPED
    assert "Weights: shipped model 'resnet8-cifar'" in captions(at)
    assert f"The shipped resnet model is `{shipped_for(parse_query('preset=resnet18')).query}`" in captions(at)
    assert len(at.image) >= 3
    names = at.dataframe[0].value["class"]
    assert set(names) <= set(CLASSES) and len(names) == 5


def test_a_cifar_resnet_opens_on_the_shipped_model_with_a_generated_shape():
    at = generated_shape(open_saliency(preset="resnet20"))  # not one of torchvision's: no ImageNet choice
    assert weights(at).value is WeightsSource.SHIPPED and "ImageNet weights" not in weights(at).options
    assert len(at.image) >= 3 and "Weights: shipped model" in captions(at)


@pytest.mark.parametrize(
    ("query", "name"),
    [({"preset": "densenet121"}, "densenet_bc40-k12"), ({"preset": "mobilenet_v2"}, "mobilenet_v2-a035")],
)
def test_each_family_with_a_shipped_model_opens_on_it_offline(query, name, empty_torch_cache):
    at = generated_shape(open_saliency(**query))
    assert weights(at).value is WeightsSource.SHIPPED
    assert f"Weights: shipped model '{name}'" in captions(at)
    assert len(at.image) >= 3  # the generated picture, its map, the overlay


def test_uploaded_checkpoint_and_image_give_three_pictures_and_top5():
    at = open_saliency(preset="resnet20")
    at.radio(key="saliency.image_source").set_value("Upload").run()
    at.file_uploader(key="saliency.upload").set_value(("red.png", png(Image.new("RGB", (80, 60), "red")), "image/png"))
    weights(at).set_value(WeightsSource.CHECKPOINT).run()
    at.file_uploader(key="saliency.checkpoint.0").set_value(
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
    weights(at).set_value(WeightsSource.CHECKPOINT).run()
    at.file_uploader(key="saliency.checkpoint.0").set_value(("other.pt", state_dict_bytes("preset=resnet32"), "x"))
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
        assert weights(at).value is WeightsSource.IMAGENET  # cached: the default
        assert "Weights: ImageNet weights from torchvision (resnet18, 69.8% top-1 as published)" in captions(at)
        names = set(at.dataframe[0].value["class"])
        assert names <= set(torchvision.models.ResNet18_Weights.DEFAULT.meta["categories"])
    finally:
        torch.hub.set_dir(previous)


def test_imagenet_weights_missing_offline_say_where_to_put_them(empty_torch_cache):
    at = open_saliency(preset="resnet18")
    weights(at).set_value(WeightsSource.IMAGENET).run()
    message = " ".join(e.value for e in at.error)
    assert "put the file at" in message and "resnet18-f37072fd.pth" in message
    assert at.button(key="saliency.download").label == "Download resnet18 weights"


@pytest.mark.slow
def test_training_on_shapes_then_explaining_a_generated_shape():
    at = open_saliency(preset="resnet20")
    at.radio(key="saliency.image_source").set_value("Generated shape").run()
    weights(at).set_value(WeightsSource.TRAINED).run()
    at.slider(key="saliency.budget").set_value(10).run()
    at.button(key="saliency.train").click().run()
    assert not at.exception, at.exception
    assert "Weights: trained here on generated shapes" in captions(at)
    assert "held-out images" in captions(at)
    assert set(at.dataframe[0].value["class"]) <= set(CLASSES)


@pytest.mark.slow
def test_train_on_shapes_warm_starts_from_the_matching_shipped_model():
    at = open_saliency(family="resnet", stem="cifar", depth="8", width="16")
    weights(at).set_value(WeightsSource.TRAINED).run()
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
    explain.select_index(len(explain.options) - 1).run()  # the cat's fifth class
    picked = next(s for s in at.selectbox if s.label == "Explain class")
    assert picked.index == len(picked.options) - 1 and picked.value != 967
    at.radio(key="saliency.image_source").set_value("Upload").run()
    coffee = (SAMPLE_DIR / "coffee.png").read_bytes()
    at.file_uploader(key="saliency.upload").set_value(("coffee.png", coffee, "image/png"))
    at.run()
    assert not at.exception, at.exception
    chosen = next(s for s in at.selectbox if s.label == "Explain class")
    assert chosen.value == 967 and chosen.options[0] == "espresso (#967)"


def test_a_checkpoint_upload_is_let_go_once_loaded_or_refused():
    """The server keeps no uploaded bytes: after loading (or refusing) a file, the uploader is a fresh
    one, the loaded model stays for this design, and another design asks for the file again."""
    at = open_saliency(preset="resnet20")
    weights(at).set_value(WeightsSource.CHECKPOINT).run()
    at.file_uploader(key="saliency.checkpoint.0").set_value(("junk.pt", b"\x00junk" * 1000, "x"))
    at.run()
    assert not at.exception
    assert [e.value for e in at.error] == [
        "junk.pt: not a PyTorch state dict that can be loaded safely: the file starts like neither a zip "
        "archive (torch.save) nor a pickle"
    ]
    assert [u.key for u in at.get("file_uploader") if "checkpoint" in u.key] == ["saliency.checkpoint.1"]
    at.file_uploader(key="saliency.checkpoint.1").set_value(("r20.pt", state_dict_bytes("preset=resnet20"), "x"))
    at.run()
    assert not at.exception and not at.error
    assert [u.key for u in at.get("file_uploader") if "checkpoint" in u.key] == ["saliency.checkpoint.2"]
    assert "Weights: uploaded checkpoint 'r20.pt' (loaded 116 tensors)" in captions(at)
    at.query_params["preset"] = "resnet32"
    at.run()
    assert "upload it again to load it into this design" in " ".join(i.value for i in at.info)
