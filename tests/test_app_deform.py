"""The Deformable page through AppTest: default config, untrained grid, training, click, no-deform hint."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from streamlit.testing.v1 import AppTest

from explorer.analysis.deform_spread import SPREAD_IMAGES
from explorer.runtime.shipped import shipped_deformable

APP = str(Path(__file__).resolve().parents[1] / "app.py")
SMALL = {"family": "plain", "depth": "4", "width": "4", "deform": "on", "resolution": "16"}


def open_deform(**query: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=300)
    for key, value in query.items():
        at.query_params[key] = value
    at.switch_page("pages/deform.py")
    at.run()
    assert not at.exception, at.exception
    return at


def figure(at: AppTest, title_start: str) -> dict:
    for chart in at.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        if spec["layout"].get("title", {}).get("text", "").startswith(title_start):
            return spec
    raise AssertionError(f"no figure titled {title_start!r}")


def trace(spec: dict, name_start: str) -> dict:
    return next(t for t in spec["data"] if t.get("name", "").startswith(name_start))


def test_a_first_visit_opens_the_shipped_deformable_model_with_learned_offsets():
    opening = shipped_deformable()
    assert opening is not None and not opening.modulated
    at = open_deform()
    title = at.title[0].value  # the sidebar writes the query its own way (width=16 is the stem's default)
    assert title.startswith("Deformable convolution: family=resnet&depth=8") and "deform=2" in title
    assert f"Weights: shipped model '{opening.name}'" in " ".join(c.value for c in at.caption)
    after = figure(at, "After:")
    deformed, regular = trace(after, "deformed"), trace(after, "regular")
    assert np.abs(np.array(deformed["x"]) - regular["x"]).max() > 0.1  # learned offsets: the grid bends
    before = figure(at, "Before training:")
    assert trace(before, "deformed")["x"] == trace(before, "regular")["x"]
    # The headline: the measured spread against object size, with its rank correlation.
    assert any("Spearman ρ" in h.value for h in at.subheader)
    spread = figure(at, f"{at.selectbox(key=f'deform.layer.{opening.query}').value}: spread")
    points = trace(spread, "held-out shape")
    assert len(points["x"]) == SPREAD_IMAGES and np.std(points["y"]) > 0
    # The Receptive field tab (issue 36): on the opening shape the learned offsets widen the centre
    # unit's effective field over the same weights with zero offsets.
    words = [c.value for c in at.caption if c.value.startswith("layer") and "RMS radius" in c.value]
    assert len(words) == 2 and words[0].split(":")[0] == words[1].split(":")[0]  # one layer, zero then learned
    zero, learned = (float(w.split("RMS radius ")[1].split(" px")[0]) for w in words)
    change = next(c.value for c in at.caption if c.value.startswith("On this picture the learned offsets"))
    assert abs(float(change.split("radius ")[1].split("×")[0]) - learned / zero) <= 0.02
    assert learned > zero


def test_an_untrained_plain_net_shows_the_regular_grid():
    at = open_deform(family="plain", depth="8", deform="on")
    assert any("Untrained: every offset is zero" in i.value for i in at.info)
    after = figure(at, "After: stage3.0.conv2")
    deformed, regular = trace(after, "deformed"), trace(after, "regular")
    assert deformed["x"] == regular["x"] and deformed["y"] == regular["y"]  # zero offsets: the same points
    assert not any("Spearman" in h.value for h in at.subheader)


def test_a_config_without_deformable_layers_offers_one():
    at = open_deform(preset="resnet18")
    assert "has no deformable layers" in at.warning[0].value
    at.button(key="deform.use_default").click().run()
    assert not at.exception, at.exception
    assert at.title[0].value.startswith("Deformable convolution: family=resnet&depth=8")
    assert f"Weights: shipped model '{shipped_deformable().name}'" in " ".join(c.value for c in at.caption)


def test_training_moves_the_points_and_the_pictures_match_the_offsets():
    at = open_deform(**SMALL)
    at.slider(key="deform.steps").set_value(2)
    at.button(key="deform.train").click().run()
    assert not at.exception, at.exception
    assert "trained here on generated shapes for 2 steps" in " ".join(c.value for c in at.caption)
    table = at.dataframe[0].value
    after = figure(at, "After:")
    deformed, regular = trace(after, "deformed"), trace(after, "regular")
    # Drawn points = regular grid + the table's offsets (image pixels), tap by tap.
    np.testing.assert_allclose(np.array(deformed["x"]) - regular["x"], table["dx (image px)"], atol=1e-3)
    np.testing.assert_allclose(np.array(deformed["y"]) - regular["y"], table["dy (image px)"], atol=1e-3)
    assert np.abs(table["dx (image px)"]).max() > 0
    before = figure(at, "Before training:")
    assert trace(before, "deformed")["x"] == trace(before, "regular")["x"]
    assert len(at.get("plotly_chart")) >= 6  # before/after, stacked x2, quiver, magnitude, bars


def test_picking_a_location_moves_the_star():
    at = open_deform(**SMALL)
    layer = at.selectbox(key="deform.layer.family=plain&depth=4&width=4&deform=on&classes=8&resolution=16")
    layer.set_value("stage1.0.conv1").run()
    at.slider(key="deform.row.stage1.0.conv1.16").set_value(3).run()
    at.slider(key="deform.col.stage1.0.conv1.16").set_value(11).run()
    assert not at.exception, at.exception
    star = trace(figure(at, "After: stage1.0.conv1 at (3, 11)"), "output location")
    assert (star["x"], star["y"]) == ([11.0], [3.0])


def test_train_on_shapes_warm_starts_from_the_shipped_model_of_the_same_architecture():
    opening = shipped_deformable()
    at = open_deform()
    from explorer.views.weights import WeightsSource

    weights = at.radio(key="deform.weights.True")
    assert weights.options == ["Shipped model (offsets learned)", "Trained here on shapes", "Uploaded checkpoint"]
    weights.set_value(WeightsSource.TRAINED).run()
    captions = " ".join(c.value for c in at.caption)
    assert f"Training starts from the shipped model '{opening.name}'" in captions
    at.slider(key="deform.steps").set_value(3)
    at.button(key="deform.train").click().run()
    assert not at.exception, at.exception
    weights = next(c.value for c in at.caption if c.value.startswith("Weights: trained here"))
    assert f"starting from the shipped model '{opening.name}'" in weights
    accuracy = int(weights.split("(")[-1].split("%")[0])
    assert accuracy >= 80, weights  # from scratch, 3 steps are at chance
    before = figure(at, "Before training:")
    assert trace(before, "deformed")["x"] == trace(before, "regular")["x"]  # "before": its offsets zeroed


def test_a_config_no_shipped_model_matches_says_it_trains_from_scratch():
    at = open_deform(**SMALL)
    assert "training starts from scratch" in " ".join(c.value for c in at.caption)
