"""Grid-search results -> plotly figures and a table (their sentences: :mod:`explorer.views.search_text`).
No torch, no streamlit.

Accuracy vs MACs: each finished point at its counted MACs with mean ± spread over seeds; the
alpha·beta²·gamma² = 2 surface shows up here as MACs = 2 x the base's (the rule's prediction at
phi = 1), the tolerance as a band around it. The grid itself lives in (alpha, beta, gamma) space,
where the constraint is the surface gamma = sqrt(2 / (alpha beta²)).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go

from explorer.analysis.search import GridPoint, PointResult, SearchSpec
from explorer.compound import TARGET_FLOPS_RATIO
from explorer.views.layout import marked_cost, standard_layout

COLOURS = {"base": "#9D9D9D", "grid": "#4C78A8", "depth": "#F58518", "width": "#54A24B", "resolution": "#B279A2"}
NAMES = {
    "base": "base (α=β=γ=1)",
    "grid": "grid points",
    "depth": "depth only",
    "width": "width only",
    "resolution": "resolution only",
}
SURFACE = "#E45756"


def _layout(fig: go.Figure, title: str, height: int = 420) -> go.Figure:
    return standard_layout(fig, title, height)


def accuracy_vs_macs(
    results: Sequence[PointResult], spec: SearchSpec, points: Sequence[GridPoint] = (), best: str | None = None
) -> go.Figure:
    """Held-out accuracy (mean, error bars ± spread over seeds) against counted MACs, one trace per
    kind; ``points`` not yet finished as hollow markers on the x axis; the constraint as a line."""
    fig = go.Figure()
    done = {r.point.key for r in results}
    for kind, name in NAMES.items():
        mine = [r for r in results if r.point.kind == kind and r.ok]
        if not mine:
            continue
        fig.add_scatter(
            x=[r.point.macs for r in mine],
            y=[r.accuracy for r in mine],
            error_y={"type": "data", "array": [r.spread for r in mine], "visible": True},
            mode="markers",
            name=name,
            marker={"color": COLOURS[kind], "size": 10, "symbol": "circle" if kind == "grid" else "diamond"},
            customdata=[[r.point.label, r.point.query, len(r.accuracies)] for r in mine],
            hovertemplate="%{customdata[0]}<br>%{y:.1%} ± %{error_y.array:.1%} over %{customdata[2]} seeds"
            "<br>%{x:,.0f} MACs<br>%{customdata[1]}<extra></extra>",
        )
    pending = [p for p in points if p.key not in done]
    if pending:
        fig.add_scatter(
            x=[p.macs for p in pending],
            y=[0.0] * len(pending),
            mode="markers",
            name="still training",
            marker={"color": "#BBBBBB", "size": 8, "symbol": "circle-open"},
            customdata=[p.label for p in pending],
            hovertemplate="%{customdata} (training)<br>%{x:,.0f} MACs<extra></extra>",
        )
    if best is not None:
        chosen = next((r for r in results if r.point.key == best), None)
        if chosen is not None:
            fig.add_scatter(
                x=[chosen.point.macs],
                y=[chosen.accuracy],
                mode="markers",
                name="best compound point",
                marker={"color": "rgba(0,0,0,0)", "size": 20, "line": {"color": SURFACE, "width": 2}},
                hoverinfo="skip",
            )
    base = next((p for p in (*points, *(r.point for r in results)) if p.kind == "base"), None)
    if base is not None:
        low = base.macs * (TARGET_FLOPS_RATIO - spec.tolerance)
        high = base.macs * (TARGET_FLOPS_RATIO + spec.tolerance)
        fig.add_vrect(x0=low, x1=high, fillcolor=SURFACE, opacity=0.08, line_width=0)
        marked_cost(fig, base.macs * TARGET_FLOPS_RATIO, "α·β²·γ² = 2 (rule: 2 × base MACs)", SURFACE)
    fig.update_xaxes(title="MACs (counted, batch 1)", type="log")
    fig.update_yaxes(title="held-out accuracy", tickformat=".0%", rangemode="tozero")
    finished = [r for r in results if r.ok]
    if finished and not pending:  # a scatter needs no zero: the axis spans the error bars, so a
        # projector shows the differences the verdict is about (pending points sit at zero instead)
        low = min(r.accuracy - r.spread for r in finished)
        high = max(r.accuracy + r.spread for r in finished)
        margin = max(0.02, (high - low) * 0.1)
        fig.update_yaxes(range=[max(0.0, low - margin), min(1.0, high + margin)], rangemode="normal")
    return _layout(fig, f"Accuracy vs MACs after {spec.steps:,} training steps")


def grid_space(results: Sequence[PointResult], spec: SearchSpec) -> go.Figure:
    """Grid points in (alpha, beta, gamma) coloured by mean accuracy, over the surface
    alpha·beta²·gamma² = 2."""
    fig = go.Figure()
    alphas = [min(spec.alphas) + i * (max(spec.alphas) - min(spec.alphas)) / 20 for i in range(21)]
    betas = [min(spec.betas) + i * (max(spec.betas) - min(spec.betas)) / 20 for i in range(21)]
    gamma_range = (min(spec.gammas), max(spec.gammas))

    def surface_gamma(a: float, b: float) -> float | None:
        g = math.sqrt(TARGET_FLOPS_RATIO / (a * b * b))
        return g if gamma_range[0] - 0.05 <= g <= gamma_range[1] + 0.05 else None

    fig.add_surface(
        x=alphas,
        y=betas,
        z=[[surface_gamma(a, b) for a in alphas] for b in betas],
        showscale=False,
        opacity=0.35,
        colorscale=[[0, SURFACE], [1, SURFACE]],
        name="α·β²·γ² = 2",
        hovertemplate="α=%{x:.2f} β=%{y:.2f} γ=%{z:.2f}<extra>α·β²·γ² = 2</extra>",
    )
    grid = [r for r in results if r.point.kind == "grid" and r.ok]
    if grid:
        fig.add_scatter3d(
            x=[r.point.alpha for r in grid],
            y=[r.point.beta for r in grid],
            z=[r.point.gamma for r in grid],
            mode="markers",
            name="grid points",
            marker={
                "size": 6,
                "color": [r.accuracy for r in grid],
                "colorscale": "Viridis",
                "colorbar": {"title": "accuracy", "tickformat": ".0%"},
            },
            customdata=[[r.accuracy, r.spread, r.point.query] for r in grid],
            hovertemplate="α=%{x:g} β=%{y:g} γ=%{z:g}<br>%{customdata[0]:.1%} ± %{customdata[1]:.1%}"
            "<br>%{customdata[2]}<extra></extra>",
        )
    fig.update_layout(scene={"xaxis_title": "α (depth)", "yaxis_title": "β (width)", "zaxis_title": "γ (resolution)"})
    return _layout(fig, "The grid and the constraint surface", height=480)


def results_frame(results: Sequence[PointResult], base_macs: int | None = None) -> list[dict[str, Any]]:
    """One row per point (a list of dicts: st.dataframe takes it as it is)."""
    return [
        {
            "point": r.point.label,
            "kind": r.point.kind,
            "α·β²·γ²": round(r.point.ratio, 3),
            "accuracy": r.accuracy if r.ok else None,
            "± spread": r.spread if r.ok else None,
            "seeds": len(r.accuracies),
            "params": r.point.params,
            "MACs": r.point.macs,
            "MACs / base": round(r.point.macs / base_macs, 3) if base_macs else None,
            "train s": round(r.train_seconds, 2) if r.ok else None,
            "network": r.point.query,
            "error": "; ".join(r.errors) or None,
        }
        for r in results
    ]
