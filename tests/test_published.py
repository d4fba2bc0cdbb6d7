"""Published figures read offline from torchvision's weights metadata (and the MobileNet paper)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from explorer.analysis.published import (
    MOBILENET_V1_PAPER,
    published_accuracies,
    torchvision_name,
    torchvision_weights,
)
from explorer.config import preset_config
from explorer.families import PRESETS
from explorer.measure.profile import profile

REFERENCE = json.loads((Path(__file__).parent / "data" / "torchvision.json").read_text())["models"]


def test_known_accuracies_from_the_installed_package():
    b3 = torchvision_weights("efficientnet_b3", "efficientnet_b3")
    assert [(w.weights, w.default, w.top1, w.top5, w.params, w.crop_size) for w in b3] == [
        ("IMAGENET1K_V1", True, 82.008, 96.054, 12_233_232, 300)
    ]
    assert b3[0].gmacs == 1.827 and b3[0].family == "efficientnet"
    r50 = {w.weights: w for w in torchvision_weights("resnet50", "resnet50")}
    assert r50["IMAGENET1K_V1"].top1 == 76.13 and not r50["IMAGENET1K_V1"].default
    assert r50["IMAGENET1K_V2"].top1 == 80.858 and r50["IMAGENET1K_V2"].default
    with pytest.raises(ValueError, match="not a torchvision classification model"):
        torchvision_weights("mobilenet_v1")


def test_every_published_preset_matches_our_counts():
    entries = published_accuracies("default")
    names = [e.preset for e in entries]
    assert len(names) == len(set(names))  # one default each
    assert {"resnet50", "efficientnet_b0", "efficientnet_b7", "mobilenet_v3_small", "vgg16"} <= set(names)
    assert "mobilenet_v1" not in names and torchvision_name("resnet56") is None  # no torchvision model
    for e in entries:
        assert e.preset in PRESETS
        assert 50 < e.top1 < 90 and e.top1 < e.top5
        if e.preset in REFERENCE:  # our counts (checked against torchvision in test_presets)
            assert e.params == REFERENCE[e.preset]["params"], e.preset
            assert e.macs == pytest.approx(REFERENCE[e.preset]["macs"], rel=0.01, abs=1e6), e.preset
            assert e.crop_size == REFERENCE[e.preset]["resolution"], e.preset


def test_profile_agrees_with_the_metadata():
    for name in ("efficientnet_b3", "mobilenet_v3_large"):
        (entry,) = [e for e in published_accuracies("default") if e.preset == name]
        result = profile(preset_config(name))
        assert result.params == entry.params
        assert result.macs / 1e9 == pytest.approx(entry.gmacs, abs=0.0005)


def test_which_weights():
    v1 = published_accuracies("v1")
    assert all(e.weights == "IMAGENET1K_V1" for e in v1)
    assert len(published_accuracies("all")) > len(published_accuracies("default"))
    with pytest.raises(ValueError):
        published_accuracies("best")


def test_mobilenet_paper_tables():
    table6 = [f for f in MOBILENET_V1_PAPER if f.resolution == 224]
    table7 = [f for f in MOBILENET_V1_PAPER if f.alpha == 1.0]
    assert [f.alpha for f in table6] == [1.0, 0.75, 0.5, 0.25]
    assert [f.resolution for f in table7] == [224, 192, 160, 128]
    for table in (table6, table7):  # monotone: less width or resolution -> less work, less accuracy
        assert all(a.mmacs > b.mmacs and a.top1 > b.top1 for a, b in itertools.pairwise(table))
