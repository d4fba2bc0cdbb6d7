"""Scaling-lab data -> plotly figures. No torch, no streamlit: figures are plain data too.

Cost axes are logarithmic: cost grows geometrically with phi, so the rule's prediction is a straight
line and a constant ratio between measured and predicted is a constant gap.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go

from explorer.analysis.published import MOBILENET_V1_PAPER, PublishedWeights
from explorer.analysis.scaling import (
    GridCell,
    PublishedPoint,
    RoundingExplanation,
    StageComparison,
    SweepPoint,
    series_name,
)
from explorer.formatting import human_count
from explorer.views.layout import marked_cost, standard_layout

USER = "#4C78A8"
RULE = "#F58518"
NOMINAL = "#9D9D9D"
PUBLISHED_COLOUR = "#E45756"
CURRENT = "#54A24B"
PALETTE = ("#4C78A8", "#F58518", "#54A24B", "#B279A2", "#E45756", "#72B7B2", "#EECA3B", "#9D755D")


def _layout(fig: go.Figure, title: str, height: int = 400) -> go.Figure:
    return standard_layout(fig, title, height)


def cost_vs_phi(
    points: Sequence[SweepPoint], published: Sequence[PublishedPoint] = (), metric: str = "macs"
) -> go.Figure:
    """Measured ``macs`` or ``params`` per phi against the rule's prediction (and 2^phi for MACs);
    published models at their nominal phi (the phi whose prediction matches their multipliers)."""
    phis = [p.phi for p in points]
    label = "MACs" if metric == "macs" else "Parameters"
    measured = [getattr(p, metric) for p in points]
    fig = go.Figure()
    fig.add_scatter(
        x=phis,
        y=measured,
        mode="lines+markers",
        name="measured (built network)",
        line={"color": USER},
        customdata=[p.query for p in points],
        hovertemplate="phi=%{x}<br>%{y:,.0f}<br>%{customdata}<extra></extra>",
    )
    if metric == "macs":
        fig.add_scatter(
            x=phis,
            y=[p.predicted_macs for p in points],
            mode="lines",
            name="rule: MACs(0) x (alpha beta² gamma²)^phi",
            line={"color": RULE, "dash": "dash"},
        )
        fig.add_scatter(
            x=phis,
            y=[p.nominal_macs for p in points],
            mode="lines",
            name="MACs(0) x 2^phi",
            line={"color": NOMINAL, "dash": "dot"},
        )
    else:
        fig.add_scatter(
            x=phis,
            y=[p.predicted_params for p in points],
            mode="lines",
            name="rule: params(0) x (alpha beta²)^phi",
            line={"color": RULE, "dash": "dash"},
        )
    if published:
        fig.add_scatter(
            x=[p.nominal_phi for p in published],
            y=[getattr(p, metric) for p in published],
            mode="markers+text",
            text=[p.name for p in published],
            textposition="top center",
            name=f"{series_name(published)} (at nominal phi)",
            marker={"color": PUBLISHED_COLOUR, "symbol": "diamond", "size": 9},
            hovertemplate="%{text}: nominal phi %{x:.2f}<br>%{y:,.0f}<extra></extra>",
        )
    fig.update_yaxes(type="log", title=label)
    fig.update_xaxes(title="phi")
    return _layout(fig, f"{label} vs phi: measured and predicted")


def cost_plane(
    points: Sequence[SweepPoint],
    published: Sequence[PublishedPoint] = (),
    current: tuple[str, int, int] | None = None,
    pins: Sequence[tuple[str, int, int]] = (),
) -> go.Figure:
    """Parameters vs MACs (log-log): the user's curve labelled by phi, B0-B7 (or Lite0-Lite4), the current design
    and pinned configs, each given as ``(label, params, macs)``."""
    fig = go.Figure()
    fig.add_scatter(
        x=[p.params for p in points],
        y=[p.macs for p in points],
        mode="lines+markers+text",
        text=[f"phi={p.phi:g}" for p in points],
        textposition="bottom right",
        name="your rule",
        line={"color": USER},
        customdata=[p.query for p in points],
        hovertemplate="%{text}<br>params %{x:,.0f}<br>MACs %{y:,.0f}<br>%{customdata}<extra></extra>",
    )
    if published:
        fig.add_scatter(
            x=[p.params for p in published],
            y=[p.macs for p in published],
            mode="lines+markers+text",
            text=[p.name for p in published],
            textposition="top left",
            name=series_name(published),
            line={"color": PUBLISHED_COLOUR, "dash": "dot"},
            marker={"symbol": "diamond", "size": 9},
            hovertemplate="%{text}<br>params %{x:,.0f}<br>MACs %{y:,.0f}<extra></extra>",
        )
    for i, (label, params, macs) in enumerate(pins):
        fig.add_scatter(
            x=[params],
            y=[macs],
            mode="markers",
            name=f"pin {i + 1}: {label}",
            marker={"symbol": "x", "size": 11, "color": PALETTE[(i + 3) % len(PALETTE)]},
        )
    if current is not None:
        label, params, macs = current
        fig.add_scatter(
            x=[params],
            y=[macs],
            mode="markers",
            name=f"current: {label}",
            marker={"symbol": "star", "size": 16, "color": CURRENT},
        )
    fig.update_xaxes(type="log", title="Parameters")
    fig.update_yaxes(type="log", title="MACs")
    return _layout(fig, "Cost plane: parameters vs MACs", height=460)


def stage_lines(points: Sequence[SweepPoint], what: str = "blocks") -> go.Figure:
    """Blocks or output channels of every stage against phi (stages with no blocks are left out
    of the blocks plot: stem and head do not repeat)."""
    names = [s.name for s in points[0].stages] if points else []
    fig = go.Figure()
    for i, name in enumerate(names):
        values = [next((s for s in p.stages if s.name == name), None) for p in points]
        ys = [getattr(s, what) if s else None for s in values]
        if what == "blocks" and not any(ys):
            continue
        fig.add_scatter(
            x=[p.phi for p in points],
            y=ys,
            mode="lines+markers",
            name=name,
            line={"color": PALETTE[i % len(PALETTE)], "shape": "hv" if what == "blocks" else "linear"},
        )
    fig.update_xaxes(title="phi")
    fig.update_yaxes(title="blocks per stage" if what == "blocks" else "output channels", type="linear")
    return _layout(fig, "Depth per stage" if what == "blocks" else "Width per stage")


def factor_bars(explanation: RoundingExplanation) -> go.Figure:
    """measured / expected for depth, width, resolution and interaction (1 = as the rule says);
    the bars multiply to the total measured / predicted."""
    names = [f.name for f in explanation.factors] + ["total"]
    ratios = [f.ratio for f in explanation.factors] + [explanation.ratio]
    fig = go.Figure(
        go.Bar(
            x=names,
            y=[r - 1 for r in ratios],
            base=1,
            text=[f"×{r:.3f}" for r in ratios],
            textposition="outside",
            marker_color=[USER] * (len(names) - 1) + [RULE],
            hovertemplate="%{x}: ×%{text}<extra></extra>",
        )
    )
    fig.add_hline(y=1, line={"color": NOMINAL, "dash": "dot"})
    fig.update_yaxes(title="measured / rule")
    return _layout(fig, f"Why phi={explanation.phi:g} differs from the rule", height=360)


def mobilenet_heatmap(cells: Sequence[GridCell], metric: str = "macs") -> go.Figure:
    """alpha x resolution grid of MobileNetV1 ``macs`` or ``params``, values written in the cells,
    the paper's figure beside ours where it gives one."""
    alphas = sorted({c.alpha for c in cells}, reverse=True)
    sides = sorted({c.resolution for c in cells}, reverse=True)
    lookup = {(c.alpha, c.resolution): getattr(c, metric) for c in cells}
    paper = {
        (f.alpha, f.resolution): (f.mmacs * 1e6 if metric == "macs" else f.mparams * 1e6) for f in MOBILENET_V1_PAPER
    }
    z = [[lookup.get((a, r)) for r in sides] for a in alphas]
    text = [
        [
            human_count(lookup[(a, r)]) + (f"<br>(paper {human_count(paper[(a, r)])})" if (a, r) in paper else "")
            if (a, r) in lookup
            else ""
            for r in sides
        ]
        for a in alphas
    ]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=[str(r) for r in sides],
            y=[f"{a:g}" for a in alphas],
            text=text,
            texttemplate="%{text}",
            colorscale="Blues",
            hovertemplate="alpha %{y}, %{x} px: %{z:,.0f}<extra></extra>",
        )
    )
    fig.update_xaxes(title="resolution (px)", type="category")
    fig.update_yaxes(title="width multiplier alpha", type="category")
    label = "MACs" if metric == "macs" else "Parameters"
    return _layout(fig, f"MobileNetV1 {label}: width x resolution", height=380)


def accuracy_vs_cost(
    entries: Sequence[PublishedWeights], x: str = "params", current: tuple[str, float] | None = None
) -> go.Figure:
    """Published ImageNet top-1 against ``params`` or ``macs`` (log axis), one colour per family;
    the current design as a vertical line at its cost (it has no published accuracy)."""
    fig = go.Figure()
    families: dict[str, list[PublishedWeights]] = {}
    for e in entries:
        families.setdefault(e.family or e.model, []).append(e)
    for i, (family, group) in enumerate(families.items()):
        fig.add_scatter(
            x=[e.params if x == "params" else e.macs for e in group],
            y=[e.top1 for e in group],
            mode="markers+text",
            text=[e.model for e in group],
            textposition="top center",
            textfont={"size": 9},
            name=family,
            marker={"color": PALETTE[i % len(PALETTE)], "size": 9},
            customdata=[e.weights for e in group],
            hovertemplate="%{text} (%{customdata})<br>top-1 %{y:.2f}%<br>%{x:,.0f}<extra></extra>",
        )
    if current is not None:
        label, cost = current
        marked_cost(fig, cost, f"current: {label}", CURRENT, y=0.05)
    fig.update_xaxes(type="log", title="Parameters" if x == "params" else "MACs (multiply-adds)")
    fig.update_yaxes(title="ImageNet-1K top-1 (%), published by torchvision")
    return _layout(fig, "Published accuracy vs cost", height=480)


def latency_vs_macs(timings: Sequence[Any]) -> go.Figure:
    """Counted MACs (x, log) against measured median time (y, log), one trace per batch size.
    ``timings`` are :class:`explorer.analysis.latency.Timing`. Equal ns per MAC would be a line."""
    fig = go.Figure()
    batches = sorted({t.batch for t in timings})
    for i, batch in enumerate(batches):
        group = [t for t in timings if t.batch == batch]
        fig.add_scatter(
            x=[t.macs * t.batch for t in group],
            y=[t.median_s * 1000 for t in group],
            mode="markers+text",
            text=[t.query.replace("preset=", "") for t in group],
            textposition="top center",
            textfont={"size": 9},
            name=f"batch {batch}",
            marker={"color": PALETTE[i % len(PALETTE)], "size": 9},
            customdata=[[t.ns_per_mac, t.throughput] for t in group],
            hovertemplate=(
                "%{text}<br>%{x:,.0f} MACs<br>%{y:.1f} ms (median)<br>%{customdata[0]:.2f} ns/MAC, "
                "%{customdata[1]:.1f} img/s<extra></extra>"
            ),
        )
    fig.update_xaxes(type="log", title="MACs per batch (counted)")
    fig.update_yaxes(type="log", title="median forward time (ms, measured)")
    return _layout(fig, "MACs vs measured time", height=460)


def compare_stages(rows: Sequence[StageComparison], what: str = "macs") -> go.Figure:
    """Overlaid per-stage ``blocks``, ``channels``, ``params`` or ``macs`` of pinned configs."""
    stages = [r for r in rows if r.stage != "total"]
    queries = rows[0].queries if rows else ()
    fig = go.Figure()
    for i, query in enumerate(queries):
        fig.add_scatter(
            x=[r.stage for r in stages],
            y=[getattr(r, what)[i] for r in stages],
            mode="lines+markers",
            name=f"{i + 1}: {query}",
            line={"color": PALETTE[i % len(PALETTE)]},
        )
    labels = {"blocks": "blocks", "channels": "output channels", "params": "parameters", "macs": "MACs"}
    fig.update_yaxes(title=labels[what], type="log" if what in ("params", "macs") else "linear")
    return _layout(fig, f"Pinned configs: {labels[what]} per stage")
