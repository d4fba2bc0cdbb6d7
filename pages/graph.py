"""Graph: the layer graph traced from the model; stages and blocks fold, identical blocks show as × N."""

import streamlit as st

from explorer.analysis.graph.fold import (
    auto_detail,
    expanded_for,
    fold,
    has_repeats,
    level_name,
    max_level,
    to_dot,
    unfold,
)
from explorer.config import parse_query
from explorer.knobs import ConfigError
from explorer.views.graph import GRAPH_METRICS, graph_figure
from pages._shared.architecture import architecture_controls
from pages._shared.caches import cached_graph

config = architecture_controls()
st.title(f"Layer graph: {config.query}")
st.caption(
    "Traced from the model itself (torch.fx): every layer is a node, every data edge an edge; orange arcs are "
    "skip connections. Click a folded box to unfold it; hover a node for its numbers; drag to pan, scroll to zoom."
)
with st.spinner("Tracing the model…"):
    graph = cached_graph(config.query)

auto_level, auto_repeats = auto_detail(graph)
top = max_level(graph)
left, middle, right, far = st.columns([3, 2, 2, 2])
level = left.select_slider(
    "Detail",
    options=list(range(1, top + 1)),
    value=min(auto_level, top),
    format_func=lambda n: f"{n}: {level_name(graph, n)}",
    key=f"graph.level.{config.query}",
    help="1 shows the stages; the last level shows every layer",
)
repeats = middle.toggle(
    "Unfold × N repeats",
    value=auto_repeats,
    key=f"graph.repeats.{config.query}",
    disabled=not has_repeats(graph),
    help="Runs of identical consecutive blocks are folded into one box marked × N",
)
metric = right.selectbox(
    "Colour and size by", list(GRAPH_METRICS), format_func=GRAPH_METRICS.__getitem__, key="graph.metric"
)
direction = far.radio(
    "Layout",
    ["TB", "LR"],
    format_func={"TB": "top to bottom", "LR": "left to right"}.get,
    horizontal=True,
    key="graph.direction",
)

group_ids = [g.id for g in graph.groups if g.id != graph.root]
labels = {g.id: g.label for g in graph.groups}
unfold_key, fold_key = f"graph.unfold.{config.query}", f"graph.fold.{config.query}"
pick_left, pick_right = st.columns(2)
to_unfold = pick_left.multiselect("Unfold", group_ids, format_func=labels.__getitem__, key=unfold_key)
to_fold = pick_right.multiselect("Fold", group_ids, format_func=labels.__getitem__, key=fold_key)

expanded = expanded_for(graph, level, repeats)
for group_id in to_unfold:
    expanded = unfold(graph, expanded, group_id, repeats)
expanded = expanded - set(to_fold)
view = fold(graph, expanded)


def _clicked(chart_key: str) -> None:
    """A click on a folded box unfolds it (through the Unfold picker, so it can be undone there)."""
    points = st.session_state[chart_key].selection.points
    picked = [p.get("customdata") for p in points]
    chosen = list(st.session_state.get(unfold_key, []))
    for item_id in picked:
        if item_id in labels and item_id not in chosen:
            chosen.append(item_id)
    st.session_state[unfold_key] = chosen
    st.session_state[fold_key] = [g for g in st.session_state.get(fold_key, []) if g not in picked]


merges = {op: len(graph.by_op(op)) for op in ("add", "cat", "mul")}
st.caption(
    f"{len(graph.nodes):,} layers and ops, {len(graph.edges):,} data edges "
    f"({merges['add']} additions, {merges['cat']} concatenations, {merges['mul']} multiplications); "
    f"showing {len(view.items):,} items. Receptive fields are theoretical (regular grid)."
)

export = st.radio("Camera button saves", ["svg", "png"], horizontal=True, key="graph.export")
compare_text = st.text_input(
    "Compare with (a query, e.g. preset=resnet50&skip=off or family=densenet&k=12)", key="graph.compare"
)
other = None
if compare_text.strip():
    try:
        other = parse_query(compare_text)
    except ConfigError as error:
        st.error(f"Cannot compare: {error}")

chart_config = {"toImageButtonOptions": {"format": export, "filename": "layer_graph", "scale": 2}, "scrollZoom": True}
if other is None:
    chart_key = "graph.chart"
    st.plotly_chart(
        graph_figure(view, metric, direction),
        key=chart_key,
        config=chart_config,
        on_select=lambda: _clicked(chart_key),
        selection_mode="points",
    )
else:
    with st.spinner("Tracing the second model…"):
        other_graph = cached_graph(other.query)
    other_level = min(level, max_level(other_graph))
    other_view = fold(other_graph, expanded_for(other_graph, other_level, repeats))
    first, second = st.columns(2)
    first.plotly_chart(graph_figure(view, metric, direction, title=config.query), key="graph.left", config=chart_config)
    second.plotly_chart(
        graph_figure(other_view, metric, direction, title=other.query), key="graph.right", config=chart_config
    )
    st.caption(
        f"{config.query}: {len(graph.nodes)} nodes, {len(graph.edges)} edges · "
        f"{other.query}: {len(other_graph.nodes)} nodes, {len(other_graph.edges)} edges"
    )

st.download_button(
    "Download this view as Graphviz DOT",
    to_dot(view, "LR" if direction == "LR" else "TB"),
    file_name="layer_graph.dot",
    mime="text/vnd.graphviz",
)
