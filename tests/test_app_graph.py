"""AppTest of the Graph page: it renders a traced graph for ResNet-50, folds, unfolds and compares."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

TIMEOUT = 60
APP = str(Path(__file__).resolve().parents[1] / "app.py")


def _graph_page(query: dict[str, str]) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.switch_page("pages/graph.py")
    for key, value in query.items():
        at.query_params[key] = value
    return at.run()


def _figure(at: AppTest, index: int = 0) -> dict:
    charts = at.get("plotly_chart")
    assert charts, "no plotly chart on the page"
    return json.loads(charts[index].proto.spec)


def _node_ids(figure: dict) -> list[str]:
    return next(t["customdata"] for t in figure["data"] if t.get("customdata"))


@pytest.fixture(scope="module")
def resnet50_page() -> AppTest:
    return _graph_page({"preset": "resnet50"})


def test_resnet50_graph_shows_every_shortcut(resnet50_page: AppTest):
    at = resnet50_page
    assert not at.exception
    assert "Layer graph: preset=resnet50" in at.title[0].value
    ids = _node_ids(_figure(at))
    # ResNet-50 opens fully unfolded: 16 additions, one per bottleneck
    assert sum(1 for i in ids if i == "add" or i.startswith("add_")) == 16
    arcs = next(t for t in _figure(at)["data"] if t.get("name") == "skip / dense edge")
    assert sum(1 for x in arcs["x"] if x is None) == 12  # identity shortcuts drawn as arcs (4 are projections)
    assert any("16 additions" in c.value for c in at.caption)


def test_stage_level_then_unfold_one_stage(resnet50_page: AppTest):
    at = resnet50_page
    at.select_slider(key="graph.level.preset=resnet50").set_value(1).run()
    ids = _node_ids(_figure(at))
    assert ids == [
        "input",
        "stage:stem",
        "stage:stage1",
        "stage:stage2",
        "stage:stage3",
        "stage:stage4",
        "stage:head",
        "output",
    ]
    at.multiselect(key="graph.unfold.preset=resnet50").set_value(["stage:stage2"]).run()
    assert not at.exception
    ids = _node_ids(_figure(at))
    assert "stage:stage2" not in ids and "layer2_0_conv1" in ids and "stage:stage3" in ids


def test_compare_two_configs_side_by_side():
    at = _graph_page({"preset": "resnet18"})
    at.text_input(key="graph.compare").set_value("preset=resnet18&skip=off").run()
    assert not at.exception
    assert len(at.get("plotly_chart")) == 2
    left, right = _node_ids(_figure(at, 0)), _node_ids(_figure(at, 1))
    assert sum(i.startswith("add") for i in left) == 8 and sum(i.startswith("add") for i in right) == 0


def test_preact_resnet1001_folds_to_a_readable_view():
    at = _graph_page({"preset": "preact_resnet1001"})
    assert not at.exception
    ids = _node_ids(_figure(at))
    assert len(ids) < 100
    assert sum(i.startswith("rep:") for i in ids) == 3  # layer1.1-110, layer2.1-110, layer3.1-110 as x 110
