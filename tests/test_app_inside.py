"""The Inside page through AppTest: a layer's channels as one picture, a channel opened, the effective
receptive field over the image and against depth, beside a variant."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from streamlit.testing.v1 import AppTest

from explorer.views.inside import WEIGHTS_LABELS, LayerWeights
from pages._inside.field import Compare

APP = str(Path(__file__).resolve().parents[1] / "app.py")
#: The shipped ResNet-8's architecture (64 px, eight classes): small, with trained weights offline.
RESNET8 = {"preset": "resnet110", "depth": "8", "width": "16", "classes": "8", "resolution": "64"}


def open_inside(samples: int | None = None, **query: str) -> AppTest:
    """The Inside page on ``query``; ``samples``: noise inputs of the field from the first run on."""
    at = AppTest.from_file(APP, default_timeout=300)
    for key, value in query.items():
        at.query_params[key] = value
    if samples is not None:
        at.session_state["inside.samples"] = samples
    at.switch_page("pages/inside.py")
    at.run()
    assert not at.exception, at.exception
    return at


def weights(at: AppTest):
    return next(r for r in at.radio if r.label == "Weights")


def captions(at: AppTest) -> str:
    return " | ".join(c.value for c in at.caption)


def pictures(at: AppTest) -> str:
    """The captions of the page's images."""
    return " | ".join(" ".join(i.captions) for i in at.image)


def test_a_shape_through_the_shipped_resnet(single_thread) -> None:
    at = open_inside(**RESNET8)
    at.radio(key="inside.image_source").set_value("Generated shape").run()
    assert not at.exception, at.exception
    assert weights(at).value is LayerWeights.SHIPPED
    assert "shipped model 'resnet8-cifar'" in captions(at)
    slider = at.select_slider(key="inside.layer.preset=resnet110&depth=8&width=16&classes=8&resolution=64")
    assert slider.value == "layer3.0" and list(slider.options) == [
        "relu (stem)",
        "layer1.0 (stage1)",
        "layer2.0 (stage2)",
        "layer3.0 (stage3)",
    ]
    assert at.subheader[-2].value.startswith("layer3.0: 64 channels of 16×16")
    slider.set_value("layer1.0").run()
    assert not at.exception, at.exception
    assert any(s.value.startswith("layer1.0: 16 channels of 64×64") for s in at.subheader)
    assert "16 of 16 channels, row by row" in pictures(at)  # the whole layer: one picture
    channel = at.selectbox(key="inside.channel.preset=resnet110&depth=8&width=16&classes=8&resolution=64.layer1.0")
    assert channel.value != 3
    channel.set_value(3).run()
    assert not at.exception, at.exception
    assert "Channel 3 of layer1.0, 64×64 enlarged to 64×64" in pictures(at)
    assert "RMS radius" in captions(at) and "theoretical" in captions(at)


def test_the_field_against_depth_beside_fresh_weights(single_thread) -> None:
    at = open_inside(samples=2, **RESNET8)
    at.radio(key="inside.image_source").set_value("Generated shape").run()
    at.toggle(key="inside.depth").set_value(True).run()
    assert not at.exception, at.exception
    at.selectbox(key="inside.compare").set_value(Compare.FRESH).run()
    assert not at.exception, at.exception
    text = captions(at)
    assert "**these weights**" in text and "**fresh weights**" in text
    radii = [float(c.split("RMS radius ")[1].split(" px")[0]) for c in text.split(" | ") if c.startswith("**")]
    assert len(radii) == 2 and radii[0] > radii[1]  # training enlarged the field (Luo et al.)
    assert np.isfinite(radii).all()


def test_fresh_weights_on_a_plain_stack(single_thread) -> None:
    at = open_inside(family="plain", depth="8", width="8", resolution="32")
    weights(at).set_value(LayerWeights.FRESH).run()
    assert not at.exception, at.exception
    assert WEIGHTS_LABELS[LayerWeights.FRESH] in [str(o) for o in weights(at).options]
    assert "fresh weights drawn from seed 0 (untrained)" in captions(at)


def test_a_heavy_design_draws_its_maps_and_leaves_the_field_for_a_click(single_thread) -> None:
    """ResNet-50 at 224 px (fresh weights): the layer's maps at once, the field only when asked."""
    at = open_inside(preset="resnet50")
    assert weights(at).value is LayerWeights.FRESH or weights(at).value is LayerWeights.IMAGENET
    assert any(s.value.startswith("layer4.2: 2,048 channels of 7×7") for s in at.subheader)
    assert "64 of 2,048 channels, row by row" in pictures(at)
    assert any(c.startswith("Off by default for a design of 4.1 G MACs") for c in captions(at).split(" | "))
    assert not at.get("plotly_chart")


def test_skip_connections_switched_and_deformable_against_plain(single_thread) -> None:
    at = open_inside(samples=2, family="plain", depth="8", width="4", resolution="32")
    assert weights(at).value is LayerWeights.FRESH  # no trained weights of this design: its own, fresh
    at.toggle(key="inside.depth").set_value(True).run()
    at.selectbox(key="inside.compare").set_value(Compare.SKIP).run()
    assert not at.exception, at.exception
    text = captions(at)
    assert "**skip on (fresh)**" in text and "**skip off (fresh)**" in text

    deformable = {**RESNET8, "deform": "2"}
    at = open_inside(samples=1, **deformable)
    at.toggle(key="inside.depth").set_value(True).run()
    at.selectbox(key="inside.compare").set_value(Compare.PLAIN).run()
    assert not at.exception, at.exception
    lines = [c for c in captions(at).split(" | ") if c.startswith("**")]
    assert lines[0].startswith("**deformable**") and "resnet8-deform" in lines[0]
    assert lines[1].startswith("**plain convs**") and "shipped model 'resnet8-cifar'" in lines[1]
