"""Layer graph view -> plotly figure. No torch, no streamlit.

Nodes are markers coloured and sized by a metric (log colour scale, area ~ value), folded groups
are squares labelled "× N" for repeats, merges (add, concat, multiply) are diamonds; data edges are
grey lines, skip connections (edges over the main path) orange arcs; unfolded groups are shaded
boxes. Plotly gives zoom, pan, hover and PNG/SVG export (camera button) for free, and draws
thousands of edges as one trace, so a 1000-node view stays fast.
"""

from __future__ import annotations

import math
from typing import Any

import plotly.graph_objects as go

from explorer.analysis.graph.data import LayerGraph
from explorer.analysis.graph.fold import GraphView, Layout, ViewItem, auto_detail, expanded_for, fold, layout
from explorer.formatting import human_bytes, human_count, shape_text

GRAPH_METRICS = {
    "params": "Parameters",
    "macs": "MACs",
    "activation_bytes": "Activation memory",
    "out_channels": "Output channels",
}
_SYMBOLS = {
    "input": "triangle-right",
    "output": "triangle-right",
    "merge": "diamond",
    "group": "square",
    "layer": "circle",
    "function": "circle-open",
}
_FRAME_COLOURS = {"stage": "#eef2f8", "block": "#f4f7fb", "repeat": "#fff4e0", "module": "#f7f7f7"}
_SKIP = "#E8772E"
_EDGE = "#8a8f98"
#: Pixels per rank along the flow (top-to-bottom), and the most the figure grows to.
PX_PER_RANK = 30
MAX_HEIGHT = 6000


def metric_value(item: ViewItem, metric: str) -> float:
    return float(item.out_channels if metric == "out_channels" else getattr(item, metric))


def _format_metric(metric: str, value: float) -> str:
    if metric == "activation_bytes":
        return human_bytes(value)
    return f"{value:,.0f}" if metric == "out_channels" else human_count(value)


def hover_text(item: ViewItem) -> str:
    lines = [f"<b>{item.label}</b>", f"{item.name}" if item.name != item.label else ""]
    if item.kind == "group":
        lines.append(
            f"{item.op} · {item.layers} layers" + (f" · {item.repeat} identical blocks" if item.repeat > 1 else "")
        )
    else:
        lines.append(f"type: {item.op}" + (f" ({item.detail})" if item.detail else ""))
    lines += [
        f"output: {shape_text(item.output_shape)}",
        f"params: {item.params:,}",
        f"MACs: {item.macs:,} ({human_count(item.macs)})",
        f"activation: {human_bytes(item.activation_bytes)}",
    ]
    if item.rf is not None and item.whole_input:
        lines.append(f"receptive field: the whole input ({item.rf}×{item.rf} px, behind a global pooling)")
    elif item.rf is not None:
        lines.append(f"receptive field: {item.rf}×{item.rf} px (stride {item.jump})")
    return "<br>".join(line for line in lines if line)


def _xy(lay: Layout, item_id: str, direction: str) -> tuple[float, float]:
    pos, lane = lay.pos[item_id], lay.lane[item_id]
    return (pos, lane) if direction == "LR" else (lane, -pos)


def _arc(p: tuple[float, float], q: tuple[float, float], height: float, direction: str, steps: int = 14) -> list:
    """Points of a quadratic Bézier from p to q bulging ``height`` away from the main path."""
    if direction == "LR":
        control = ((p[0] + q[0]) / 2, max(p[1], q[1]) + 2 * height)
    else:
        control = (min(p[0], q[0]) - 2 * height, (p[1] + q[1]) / 2)  # left: labels sit on the right
    points = []
    for k in range(steps + 1):
        t = k / steps
        points.append(
            (
                (1 - t) ** 2 * p[0] + 2 * (1 - t) * t * control[0] + t**2 * q[0],
                (1 - t) ** 2 * p[1] + 2 * (1 - t) * t * control[1] + t**2 * q[1],
            )
        )
    return points


def graph_figure(
    view: GraphView,
    metric: str = "params",
    direction: str = "TB",
    title: str | None = None,
    labels: bool | None = None,
    height: int | None = None,
) -> go.Figure:
    """The figure of a folded view (see the module docstring). ``direction``: ``TB`` or ``LR``."""
    if metric not in GRAPH_METRICS:
        raise ValueError(f"unknown metric '{metric}'; allowed: {', '.join(GRAPH_METRICS)}")
    if direction not in ("TB", "LR"):
        raise ValueError(f"unknown direction '{direction}'; allowed: TB, LR")
    lay = layout(view)
    xy = {item.id: _xy(lay, item.id, direction) for item in view.items}
    if labels is None:
        labels = direction == "TB" or len(view.items) <= 40
    traces: list[Any] = []

    # frames (unfolded groups), outermost first so inner ones sit on top
    shapes, frame_x, frame_y, frame_text = [], [], [], []
    deepest = max((f.depth for f in view.frames), default=0)
    for frame in sorted(view.frames, key=lambda f: f.depth):
        points = [xy[i] for i in frame.items]
        inside = set(frame.items)
        for (a, b), h in lay.arcs.items():
            if a in inside and b in inside:
                points.extend(_arc(xy[a], xy[b], h, direction, steps=2)[1:2])
        pad = 0.22 + 0.14 * (deepest - frame.depth)
        x0, x1 = min(p[0] for p in points) - pad, max(p[0] for p in points) + pad
        y0, y1 = min(p[1] for p in points) - pad, max(p[1] for p in points) + pad
        if direction == "TB":
            x1 += 1.6 if labels else 0.0  # room for the labels right of the nodes
        shapes.append(
            {
                "type": "rect",
                "x0": x0,
                "x1": x1,
                "y0": y0,
                "y1": y1,
                "layer": "below",
                "line": {"color": "#b8c2d0", "width": 1},
                "fillcolor": _FRAME_COLOURS.get(frame.kind, "#f7f7f7"),
                "opacity": 0.9,
            }
        )
        frame_x.append(x0 if direction == "LR" else x1)
        frame_y.append(y1)
        frame_text.append(frame.label)
    traces.append(
        go.Scatter(
            x=frame_x,
            y=frame_y,
            text=frame_text,
            mode="text",
            textposition="bottom right" if direction == "LR" else "bottom left",
            textfont={"size": 10, "color": "#5b6b82"},
            hoverinfo="skip",
            showlegend=False,
        )
    )

    # edges: straight ones in one trace, skip arcs in another
    ex: list[float | None] = []
    ey: list[float | None] = []
    ax: list[float | None] = []
    ay: list[float | None] = []
    for a, b, _ in view.edges:
        if (a, b) in lay.arcs:
            for px, py in _arc(xy[a], xy[b], lay.arcs[(a, b)], direction):
                ax.append(px)
                ay.append(py)
            ax.append(None)
            ay.append(None)
        else:
            ex += [xy[a][0], xy[b][0], None]
            ey += [xy[a][1], xy[b][1], None]
    traces.append(
        go.Scatter(x=ex, y=ey, mode="lines", line={"color": _EDGE, "width": 1.2}, hoverinfo="skip", name="data flow")
    )
    traces.append(
        go.Scatter(
            x=ax, y=ay, mode="lines", line={"color": _SKIP, "width": 1.6}, hoverinfo="skip", name="skip / dense edge"
        )
    )

    # nodes: coloured by log10(metric + 1); zero-valued ones in grey
    values = [metric_value(i, metric) for i in view.items]
    top = max(values, default=0.0) or 1.0
    sizes = [
        (12 if i.kind == "group" else 7) + (22 * math.sqrt(v / top) if v > 0 else 0)
        for i, v in zip(view.items, values, strict=True)
    ]
    colour = [math.log10(v + 1) if v > 0 else None for v in values]
    finite = [c for c in colour if c is not None]
    lo, hi = (min(finite), max(finite)) if finite else (0.0, 1.0)
    ticks = list(range(math.floor(lo), math.ceil(hi) + 1)) or [0]
    label_text = [i.label if (labels or i.kind == "group") else "" for i in view.items]
    traces.append(
        go.Scatter(
            x=[xy[i.id][0] for i in view.items],
            y=[xy[i.id][1] for i in view.items],
            mode="markers+text",
            text=label_text,
            textposition="middle right" if direction == "TB" else "bottom center",
            textfont={"size": 11},
            customdata=[i.id for i in view.items],
            hovertext=[hover_text(i) for i in view.items],
            hovertemplate="%{hovertext}<extra></extra>",
            marker={
                "size": sizes,
                "symbol": [_SYMBOLS.get(i.kind, "circle") for i in view.items],
                "color": [c if c is not None else lo for c in colour],
                "colorscale": "Viridis",
                "cmin": lo,
                "cmax": hi if hi > lo else lo + 1,
                "line": {"color": ["#333" if i.kind == "group" else "#ffffff" for i in view.items], "width": 1},
                "colorbar": {
                    "title": {"text": GRAPH_METRICS[metric]},
                    "tickvals": ticks,
                    "ticktext": [_format_metric(metric, 10**t) for t in ticks],
                    "thickness": 12,
                },
                "opacity": [1.0 if c is not None else 0.45 for c in colour],
            },
            name="layers",
            showlegend=False,
        )
    )
    fig = go.Figure(traces)
    fig.update_layout(
        shapes=shapes,
        title=title,
        margin={"l": 10, "r": 10, "t": 40 if title else 10, "b": 10},
        plot_bgcolor="white",
        hovermode="closest",
        dragmode="pan",
        legend={"orientation": "h", "y": 0, "x": 0, "yanchor": "top"},
        clickmode="event+select",
    )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    if direction == "TB":
        fig.update_layout(height=height or int(min(MAX_HEIGHT, max(420, 120 + PX_PER_RANK * (lay.length + 1)))))
        arc_room = max(lay.arcs.values(), default=0.0)
        fig.update_xaxes(range=[-1.0 - arc_room, max(4.0, max(lay.lane.values(), default=0.0) + 4.5)])
        fig.update_yaxes(range=[-(lay.length + 0.8), 0.8])
    else:
        fig.update_layout(height=height or int(max(320, 150 + 90 * (lay.width + 1))))
        window = 70.0
        if lay.length > window:
            fig.update_xaxes(range=[-1.0, window], rangeslider={"visible": True, "thickness": 0.08})
    return fig


def overview_figure(graph: LayerGraph, metric: str = "params", budget: int = 60, direction: str = "LR") -> go.Figure:
    """A small folded picture of a :class:`~explorer.analysis.graph.data.LayerGraph` for other pages
    (the Build page): the most detailed view within ``budget`` items, left to right."""
    level, repeats = auto_detail(graph, budget)
    view = fold(graph, expanded_for(graph, level, repeats))
    return graph_figure(view, metric, direction, labels=len(view.items) <= 40)
