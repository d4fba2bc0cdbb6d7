"""The layer graph as data: counts from the architecture definitions, receptive fields, folding."""

from __future__ import annotations

import json

import pytest

from explorer.analysis.graph import layer_graph
from explorer.analysis.graph.data import LayerGraph
from explorer.analysis.graph.fold import (
    all_groups,
    auto_detail,
    expanded_for,
    fold,
    layout,
    max_level,
    to_dot,
    unfold,
    visible_count,
)
from explorer.cli import main
from explorer.config import parse_query
from explorer.measure.profile import profile
from explorer.views.graph import GRAPH_METRICS, graph_figure, overview_figure

_CACHE: dict[str, LayerGraph] = {}


def graph_of(query: str) -> LayerGraph:
    if query not in _CACHE:
        _CACHE[query] = layer_graph(parse_query(query))
    return _CACHE[query]


def preds(graph: LayerGraph, node_id: str) -> list[str]:
    return [a for a, b in graph.edges if b == node_id]


# -- nodes and edges from the definitions ------------------------------------------------------------
@pytest.mark.parametrize(("query", "adds", "convs"), [("preset=resnet18", 8, 20), ("preset=resnet50", 16, 53)])
def test_resnet_has_one_addition_per_block(query: str, adds: int, convs: int):
    graph = graph_of(query)
    assert len(graph.by_op("add")) == adds  # 2-2-2-2 basic / 3-4-6-3 bottleneck blocks
    assert all(len(preds(graph, n.id)) == 2 for n in graph.by_op("add"))
    assert len(graph.by_op("Conv2d")) == convs  # 17 / 49 + 3 / 4 projection shortcuts (+ conv1 counted)
    assert len(graph.by_op("Linear")) == 1
    assert graph.by_op("cat") == []


def test_resnet18_identity_shortcut_skips_the_block():
    graph = graph_of("preset=resnet18")
    # layer1.0 adds its input (the max-pool output) to bn2's output
    add = next(n for n in graph.in_group("g:layer1.0") if n.op == "add")
    assert sorted(preds(graph, add.id)) == ["layer1_0_bn2", "maxpool"]
    # layer2.0 has a projection: its addition takes downsample.1 (BN) instead
    add2 = next(n for n in graph.in_group("g:layer2.0") if n.op == "add")
    assert sorted(preds(graph, add2.id)) == ["layer2_0_bn2", "layer2_0_downsample_1"]


def test_plain_resnet_has_no_additions():
    assert graph_of("preset=resnet18&skip=off").by_op("add") == []


def test_densenet121_block1_concatenations():
    graph = graph_of("preset=densenet121")
    cats = [graph.node(n) for n in graph.find_group("features.denseblock1").nodes if graph.node(n).op == "cat"]
    # 6 layers: layer j concatenates the block input and the j-1 earlier outputs (j inputs), then the
    # block concatenates all 7 feature maps: 64 + 6 * 32 = 256 channels
    assert [len(preds(graph, c.id)) for c in cats] == [1, 2, 3, 4, 5, 6, 7]
    assert cats[-1].output_shape == (1, 256, 56, 56)
    assert len(graph.by_op("cat")) == 6 + 12 + 24 + 16 + 4
    assert [g.kind for g in graph.groups].count("repeat") == 0  # dense layers are not a chain: no "x N"


def test_efficientnet_b0_squeeze_excitation_branches():
    graph = graph_of("preset=efficientnet_b0")
    muls = graph.by_op("mul")
    assert len(muls) == 16  # one SE per MBConv block (1+2+2+3+3+4+1)
    for mul in muls:  # scale (sigmoid of the SE branch) times the block's features
        sources = {graph.node(p).op for p in preds(graph, mul.id)}
        assert "Sigmoid" in sources
    assert len(graph.by_op("add")) == 9  # residual adds where stride 1 and channels match


def test_deformable_conv_shows_its_offset_branch():
    graph = graph_of("preset=resnet50&deform=4")
    deform = graph.by_op("DeformConv2d")
    assert len(deform) == 3  # layer4's three 3x3 convs
    for node in deform:
        offset = graph.node(f"{node.id}_offset")
        assert offset.op == "Conv2d" and offset.output_shape[1] == 2 * 3 * 3
        assert set(preds(graph, node.id)) == {offset.id, *preds(graph, offset.id)}
        assert graph.parent(node.id) == graph.parent(offset.id) == f"g:{node.name}"


@pytest.mark.parametrize(
    "query", ["preset=resnet18", "preset=densenet121", "preset=efficientnet_b0", "preset=resnet50&deform=4"]
)
def test_node_numbers_sum_to_the_profile(query: str):
    graph, result = graph_of(query), profile(parse_query(query))
    assert graph.params == result.params
    assert graph.macs == result.macs


def test_receptive_fields_of_known_layers():
    graph = graph_of("preset=resnet18")
    rf = {n.id: (n.rf, n.jump) for n in graph.nodes}
    assert rf["conv1"] == (7, 2)
    assert rf["maxpool"] == (11, 4)
    assert rf["layer1_0_conv1"] == (19, 4)  # 3x3 at stride 4: 11 + 2 * 4
    assert rf["layer1_0_conv2"] == (27, 4)
    assert rf["layer2_0_conv1"] == (51, 8)  # 43 + 2 * 4 at the strided conv
    assert graph.node("input").rf == 1
    cifar = graph_of("preset=resnet20")
    assert cifar.node("conv1").rf == 3


def test_the_deepest_fields_match_the_published_ones_and_a_global_pooling_sees_the_whole_input():
    """ResNet-18, ResNet-50 and MobileNetV2's last convolutions see 435, 427 and 491 px (the published
    theoretical fields, e.g. Araujo et al., Distill 2019); a squeeze-excitation block's global pooling
    widens every later field to the whole input: EfficientNet-B0 and MobileNetV3 never exceed their
    224 px input (the recursion used to multiply the grid step at each pooling: 8e21 px for B0)."""
    for query, deepest in (("preset=resnet18", 435), ("preset=resnet50", 427), ("preset=mobilenet_v2", 491)):
        graph = graph_of(query)
        assert max(n.rf or 0 for n in graph.nodes) == deepest, query
        assert graph.node("output").rf == 224  # behind the global average pooling: the whole input
        assert graph.node("output").whole_input and not graph.nodes[1].whole_input  # the first layer
    for query in ("preset=efficientnet_b0", "preset=mobilenet_v3_large"):
        graph = graph_of(query)
        assert max(n.rf or 0 for n in graph.nodes) == 224, query
        assert max(n.jump or 0 for n in graph.nodes) <= 224, query  # the grid step never passes the input
    whole = [n.name for n in graph_of("preset=efficientnet_b0").nodes if n.whole_input]
    assert "features.1.0.block.1.avgpool" in whole and "features.1.0.block.2.0" in whole  # the SE's scale onwards
    small = graph_of("preset=vgg11&resolution=32")  # 1x1 before the adaptive pooling to 7x7: copies
    assert small.node("avgpool").rf == small.node("features_20").rf > 0


# -- hierarchy and folding -------------------------------------------------------------------------
def test_resnet50_repeats_fold_identical_blocks():
    graph = graph_of("preset=resnet50")
    repeats = [g for g in graph.groups if g.kind == "repeat"]
    assert [(g.label, g.repeat) for g in repeats] == [
        ("layer1.1–2 · Bottleneck × 2", 2),
        ("layer2.1–3 · Bottleneck × 3", 3),
        ("layer3.1–5 · Bottleneck × 5", 5),
        ("layer4.1–2 · Bottleneck × 2", 2),
    ]
    stages = fold(graph, expanded_for(graph, 1))
    assert [i.id for i in stages.items] == [
        "input", "stage:stem", "stage:stage1", "stage:stage2", "stage:stage3", "stage:stage4", "stage:head", "output",
    ]  # fmt: skip
    # a stage's output feeds the next block's first conv and its projection shortcut: 2 edges merged
    assert [c for _, _, c in stages.edges] == [1, 2, 2, 2, 2, 1, 1]


def test_fold_everything_is_the_graph_and_numbers_are_conserved():
    graph = graph_of("preset=resnet50")
    full = fold(graph)
    assert [i.id for i in full.items] == [n.id for n in graph.nodes]
    assert [(a, b) for a, b, _ in full.edges] == list(graph.edges)
    for level in range(1, max_level(graph) + 1):
        for repeats in (False, True):
            view = fold(graph, expanded_for(graph, level, repeats))
            assert view.params == graph.params and view.macs == graph.macs
            assert sum(item.layers for item in view.items) == len(graph.nodes)


def test_unfold_then_fold_round_trips():
    graph = graph_of("preset=resnet50")
    base = expanded_for(graph, 1)
    opened = unfold(graph, base, "stage:stage2")
    view = fold(graph, opened)
    ids = [i.id for i in view.items]
    assert "layer2_0_conv1" in ids and "rep:layer2.1..layer2.3" in ids and "stage:stage3" in ids
    assert fold(graph, opened - {"stage:stage2"}).items == fold(graph, base).items


def test_to_dict_round_trip():
    graph = graph_of("preset=resnet18")
    data = json.loads(json.dumps(graph.to_dict()))
    assert LayerGraph.from_dict(data) == graph


def test_deep_models_open_folded(deep_graphs: dict[str, LayerGraph]):
    resnet = deep_graphs["preset=preact_resnet1001"]
    assert len(resnet.by_op("add")) == 333  # 3 stages x 111 bottlenecks
    assert sorted(g.repeat for g in resnet.groups if g.kind == "repeat") == [110, 110, 110]
    level, repeats = auto_detail(resnet)
    assert not repeats and visible_count(resnet, expanded_for(resnet, level, repeats)) < 100
    dense = deep_graphs["preset=densenet264"]
    assert len(dense.by_op("cat")) == 6 + 12 + 64 + 48 + 4
    level, repeats = auto_detail(dense)
    assert visible_count(dense, expanded_for(dense, level, repeats)) <= 180


@pytest.fixture(scope="module")
def deep_graphs() -> dict[str, LayerGraph]:
    return {q: graph_of(q) for q in ("preset=preact_resnet1001", "preset=densenet264")}


# -- layout, figure, DOT, CLI ------------------------------------------------------------------------
def test_layout_puts_identity_shortcuts_on_arcs():
    view = fold(graph_of("preset=resnet18"))
    lay = layout(view)
    assert len(lay.arcs) == 5  # 8 blocks, 3 of them with projection branches (drawn as lanes)
    assert {lay.lane[i] for i in ("layer2_0_downsample_0", "layer2_0_downsample_1")} == {1.0}


@pytest.mark.parametrize("metric", list(GRAPH_METRICS))
def test_figure_has_a_marker_per_item(metric: str):
    view = fold(graph_of("preset=resnet18"), expanded_for(graph_of("preset=resnet18"), 2))
    fig = graph_figure(view, metric, "LR")
    nodes = next(t for t in fig.data if t.customdata is not None)
    assert list(nodes.customdata) == [i.id for i in view.items]
    assert any("receptive field: 7×7 px (stride 2)" in h for h in nodes.hovertext)  # conv1
    assert any("receptive field: the whole input (224×224 px" in h for h in nodes.hovertext)  # after the pooling
    with pytest.raises(ValueError):
        graph_figure(view, "weight", "LR")


def test_overview_figure_is_small():
    fig = overview_figure(graph_of("preset=resnet50"))
    nodes = next(t for t in fig.data if t.customdata is not None)
    assert len(nodes.customdata) <= 60


def test_dot_has_clusters_and_every_edge():
    graph = graph_of("preset=resnet18")
    view = fold(graph, all_groups(graph))
    dot = to_dot(view)
    assert dot.startswith('digraph "preset=resnet18"')
    assert dot.count(" -> ") == len(graph.edges)
    assert '"cluster_g:layer2.0"' in dot


def test_cli_graph_json_and_dot(capsys: pytest.CaptureFixture[str]):
    assert main(["graph", "preset=resnet18", "--fold", "none"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert len(data["nodes"]) == len(graph_of("preset=resnet18").nodes)
    assert sum(n["op"] == "add" for n in data["nodes"]) == 8
    assert len(data["view"]["items"]) == len(data["nodes"])
    assert main(["graph", "preset=resnet18", "--format", "dot", "--fold", "1"]) == 0
    assert '"stage:stage1"' in capsys.readouterr().out
    assert main(["graph", "preset=resnet18", "--fold", "zero"]) == 2
    assert capsys.readouterr().err.startswith("error:")
