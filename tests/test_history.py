"""The History view: the timeline's measured costs equal the reference counts, its accuracies are the
published ones, every row links to its config, and the page shows the current design on the scatter."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from explorer.analysis.history import MILESTONES, timeline
from explorer.config import parse_query
from explorer.views.history import timeline_frame

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = {
    **json.loads((ROOT / "tests" / "data" / "torchvision.json").read_text())["models"],
    **json.loads((ROOT / "tests" / "data" / "torchvision_classic.json").read_text())["models"],
}


@pytest.fixture(scope="module")
def rows():
    return timeline()


def test_the_timeline_runs_from_alexnet_to_the_hybrids_in_order(rows):
    names = [r.milestone.name for r in rows]
    assert names[0] == "AlexNet" and names[-2:] == ["Hybrid (MBConv)", "Hybrid (residual)"]
    years = [r.milestone.year for r in rows]
    assert years == sorted(years) and years[0] == 2012
    assert {"VGG-16", "GoogLeNet", "ResNet-50", "DenseNet-121", "EfficientNet-B0"} <= set(names)


def test_measured_costs_are_the_reference_counts(rows):
    for row in rows:
        reference = REFERENCE.get(row.milestone.preset)
        if reference is None:  # the hybrids and MobileNet V1: not torchvision models
            continue
        assert row.params == reference["params"], row.milestone.name
        assert row.macs == pytest.approx(reference["macs"], rel=0.005), row.milestone.name


def test_accuracies_are_the_published_ones(rows):
    top1 = {r.milestone.preset: (r.top1, r.source) for r in rows}
    assert top1["alexnet"] == (56.522, "torchvision alexnet IMAGENET1K_V1")
    assert top1["resnet50"][0] == 76.13 and top1["efficientnet_b0"][0] == 77.692
    assert top1["mobilenet_v1"] == (70.6, "Howard et al. (2017), Table 6")
    assert top1["hybrid_resnet"] == (None, None)


def test_every_row_links_to_its_config(rows):
    frame = timeline_frame(rows)
    assert len(frame) == len(MILESTONES)
    for link, row in zip(frame["build"], rows, strict=True):
        assert link.startswith("/?")
        assert parse_query(link[2:]) == parse_query(f"preset={row.milestone.preset}")
    assert frame.loc[0, "graph"] == "/graph?preset=alexnet"


def test_the_page_places_the_current_design_on_the_scatter():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.query_params["preset"] = "resnet18"
    at.switch_page("pages/history.py")
    at.run()
    assert not at.exception, at.exception
    assert at.title[0].value == "History of CNN design"
    table = at.dataframe[0].value
    assert list(table["architecture"][:2]) == ["AlexNet", "VGG-16"]
    charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    assert len(charts) == 2
    for chart in charts:
        shapes = chart["layout"].get("shapes", [])
        assert any(s.get("line", {}).get("dash") == "dash" for s in shapes)  # the current design's line
    assert "`preset=resnet18`: 11,689,512 parameters" in " ".join(c.value for c in at.caption)
