"""Grid-search results -> plotly figures and a table. No torch, no streamlit.

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

from explorer.analysis.search import GridPoint, PointResult, Ranking, SearchSpec, Verdict
from explorer.compound import TARGET_FLOPS_RATIO
from explorer.views.layout import standard_layout

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
        fig.add_vline(
            x=base.macs * TARGET_FLOPS_RATIO,
            line={"color": SURFACE, "dash": "dash"},
            annotation_text="α·β²·γ² = 2 (rule: 2 × base MACs)",
            annotation_position="top left",
        )
    fig.update_xaxes(title="MACs (counted, batch 1)", type="log")
    fig.update_yaxes(title="held-out accuracy", tickformat=".0%", rangemode="tozero")
    return _layout(fig, "Accuracy vs MACs after the short training")


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


_ONLY = {"depth": "deeper only", "width": "wider only", "resolution": "higher resolution only"}


def _network(point: GridPoint) -> str:
    """What the network's knobs carry, e.g. "depth ×1.4, width ×1.2, resolution ×1"."""
    depth, width, resolution = point.achieved
    return f"depth ×{depth:.2g}, width ×{width:.2g}, resolution ×{resolution:.2g}"


def _apart(difference: float, noise: float) -> tuple[str, str]:
    """Both as percentages, with a second decimal when one would show them equal ("+1.8 %" against
    "1.8 %" reads as a tie where the verdict saw a difference)."""
    for digits in (1, 2, 3):
        a, b = f"{difference:+.{digits}%}", f"{noise:.{digits}%}"
        if a.lstrip("+-") != b:
            return a, b
    return a, b


def claim_in_words(judged: Verdict, ranked: Ranking | None) -> tuple[str, str]:
    """The seed's claim (compound beats single-dimension scaling at equal MACs) judged by a search's
    numbers, for a learner: ``(outcome, markdown)`` with outcome ``"holds"``, ``"refuted"``, ``"not
    shown"`` or ``"open"`` (nothing to judge yet). A difference counts only beyond the seeds' spread
    (:class:`explorer.analysis.search.Comparison`)."""
    claim = (
        "**The claim:** at the same cost, growing depth, width and resolution together beats growing any one "
        "of them alone."
    )
    best = judged.best
    if best is None or not judged.comparisons:
        return "open", f"{claim} Not judged yet: the search needs a compound point and a single-dimension one."
    seeds = len(best.accuracies)
    head = (
        f"**The best compound network** ({best.point.label}: {_network(best.point)}) reached "
        f"**{best.accuracy:.1%} ± {best.spread:.1%}** held-out accuracy over {seeds} seeds. At about the same MACs:"
    )
    comparisons = sorted(judged.comparisons, key=lambda c: list(_ONLY).index(c.baseline.point.kind))
    words = {"better": "**better**", "worse": "**worse**", "within spread": "**no difference these seeds can see**"}
    bullets = []
    for c in comparisons:
        difference, noise = _apart(c.difference, c.noise)
        bullets.append(
            f"- {_ONLY[c.baseline.point.kind]} ({_network(c.baseline.point)}): {c.baseline.accuracy:.1%} ± "
            f"{c.baseline.spread:.1%}; the compound network is {difference} against it, with {noise} of "
            f"combined spread: {words[c.outcome]}."
        )
    outcomes = {c.outcome for c in judged.comparisons}
    worse = [_ONLY[c.baseline.point.kind] for c in comparisons if c.outcome == "worse"]
    even = [_ONLY[c.baseline.point.kind] for c in comparisons if c.outcome == "within spread"]
    if outcomes == {"better"}:
        outcome = "holds"
        end = "It beats every one-dimension network by more than the seeds' spread: **the claim holds here.**"
    elif worse:
        outcome = "refuted"
        who = " and ".join(worse).capitalize()
        end = f"{who} beat it by more than the seeds' spread: **here the claim is refuted.**"
    else:
        outcome = "not shown"
        end = (
            f"Against {' and '.join(even)} the difference is inside the seeds' spread: **these numbers neither show "
            "nor refute the claim.**"
        )
    paragraphs = [claim, head + "\n" + "\n".join(bullets), end]
    if ranked is not None and ranked.runner_up is not None:
        w, r = ranked.winner, ranked.runner_up
        gap, noise = _apart(ranked.difference, ranked.noise)
        order = (
            f"more than their combined spread ({noise}): these seeds tell the two apart"
            if ranked.separated
            else f"not more than their combined spread ({noise}), so other seeds could swap them"
        )
        trust = (
            f"under a third of the {ranked.accuracy_range:.1%} between the best and the worst network: the grid is "
            "ranked by the architectures, not by the luck of the seeds."
            if ranked.ranks
            else f"not under a third of the {ranked.accuracy_range:.1%} between the best and the worst network: "
            "where the spread is that wide, the luck of the seeds can move the order."
        )
        paragraphs.append(
            f"**Can the ranking be trusted?** The winner of the whole grid, {w.point.label} ({w.accuracy:.1%}), is "
            f"{gap.lstrip('+')} ahead of the runner-up, {r.point.label} ({r.accuracy:.1%}): {order}. The "
            f"largest spread of any network, {ranked.largest_spread:.1%}, is {trust}"
        )
    return outcome, "\n\n".join(paragraphs)
