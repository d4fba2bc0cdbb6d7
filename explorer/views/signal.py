"""Signal-flow data -> plotly figures. No torch, no streamlit.

Inputs are duck-typed: a *result* has ``points`` (each with ``depth``, ``name``, ``stage``, ``type``
and the metric attributes) and ``stages`` (``(name, first depth)`` pairs), as
:class:`explorer.analysis.signal.SignalResult` does.

Values a log axis cannot show are drawn, not dropped: NaN and infinity as red crosses along the top
edge ("overflow"), exact zeros as triangles along the bottom edge ("zero"), each hovering with the
layer, so a depth-1000 network that overflows at layer 412 still gives a readable picture.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go

#: What each of ``explorer.analysis.signal.VARIANTS`` does, in the page's words.
VARIANT_LABELS = {
    "skip": "flip skip connections",
    "bn": "flip batch norm",
    "init=default": "default init",
    "init=kaiming": "Kaiming init",
    "init=xavier": "Xavier init",
    "init=orthogonal": "orthogonal init",
    "depth*2": "twice as deep",
    "depth/2": "half as deep",
}

METRIC_LABELS = {
    "activation_std": "Activation std",
    "grad_norm": "Gradient norm ‖∂L/∂activation‖",
    "weight_grad_norm": "Weight-gradient norm ‖∂L/∂W‖",
    "activation_mean": "Activation mean",
}
#: How the probe's batch-norm statistics read (keyed by ``explorer.analysis.signal.Statistics`` values:
#: this module imports no torch).
STATISTICS_LABELS = {
    "batch": "batch statistics (training mode)",
    "running": "running statistics (eval mode)",
}


def statistics_label(statistics: Any) -> str:
    """The label of a :class:`~explorer.analysis.signal.Statistics`."""
    return STATISTICS_LABELS[statistics.value]


#: Metrics drawn on a log axis (the rest, the mean, can be negative: linear axis).
LOG_METRICS = ("activation_std", "grad_norm", "weight_grad_norm")
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2", "#7f7f7f")
OVERFLOW_COLOUR = "#b00020"


def _is_bad(value: float | None) -> bool:
    return value is not None and not math.isfinite(value)


def _hover(point: Any) -> str:
    return f"layer {point.depth}: {point.name}<br>{point.type} · {point.stage}"


def signal_figure(
    curves: Sequence[tuple[str, Any]],
    metric: str = "grad_norm",
    height: int = 420,
    highlight: int = 0,
) -> go.Figure:
    """Lines of ``metric`` against depth for each ``(label, result)``; stage boundaries of the
    ``highlight``-th curve as dotted lines; non-finite values and zeros as edge markers."""
    log = metric in LOG_METRICS
    fig = go.Figure()
    finite = [
        v
        for _, result in curves
        for p in result.points
        if (v := getattr(p, metric)) is not None and math.isfinite(v) and (v > 0 or not log)
    ]
    if log:
        low, high = (min(finite), max(finite)) if finite else (1e-3, 1.0)
        top, bottom = high * 10, low / 10
    else:
        low, high = (min(finite), max(finite)) if finite else (-1.0, 1.0)
        pad = (high - low) * 0.1 or 1.0
        top, bottom = high + pad, low - pad
    for index, (label, result) in enumerate(curves):
        colour = PALETTE[index % len(PALETTE)]
        points = [p for p in result.points if getattr(p, metric) is not None]
        xs = [p.depth for p in points]
        ys = [
            getattr(p, metric) if math.isfinite(getattr(p, metric)) and (getattr(p, metric) > 0 or not log) else None
            for p in points
        ]
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                mode="lines+markers" if len(points) <= 120 else "lines",
                name=label,
                line={"color": colour, "width": 3 if index == highlight else 1.8},
                marker={"size": 4},
                customdata=[_hover(p) for p in points],
                hovertemplate="%{customdata}<br>" + METRIC_LABELS.get(metric, metric) + " %{y:.3e}<extra>"
                f"{label}</extra>",
                connectgaps=False,
                legendgroup=label,
            )
        )
        bad = [p for p in points if _is_bad(getattr(p, metric))]
        if bad:
            fig.add_trace(
                go.Scatter(
                    x=[p.depth for p in bad],
                    y=[top] * len(bad),
                    mode="markers",
                    name=f"{label}: overflow (inf/NaN)",
                    marker={"symbol": "x", "size": 9, "color": OVERFLOW_COLOUR, "line": {"color": colour, "width": 1}},
                    customdata=[f"{_hover(p)}<br>value: {getattr(p, metric)}" for p in bad],
                    hovertemplate="%{customdata}<extra>overflow</extra>",
                    legendgroup=label,
                )
            )
        zeros = [p for p in points if log and getattr(p, metric) == 0.0]
        if zeros:
            fig.add_trace(
                go.Scatter(
                    x=[p.depth for p in zeros],
                    y=[bottom] * len(zeros),
                    mode="markers",
                    name=f"{label}: exactly zero",
                    marker={"symbol": "triangle-down", "size": 8, "color": colour},
                    customdata=[_hover(p) for p in zeros],
                    hovertemplate="%{customdata}<br>value: 0 (underflow)<extra>zero</extra>",
                    legendgroup=label,
                )
            )
    if curves:
        _stage_lines(fig, curves[min(highlight, len(curves) - 1)][1])
    fig.update_layout(
        height=height,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        title=METRIC_LABELS.get(metric, metric),
        hovermode="closest",
        legend={"orientation": "h", "y": -0.18},
        xaxis_title="depth (conv/linear layer, in execution order)",
    )
    if log:
        fig.update_yaxes(type="log", range=[math.log10(bottom) - 0.3, math.log10(top) + 0.3], exponentformat="power")
    else:
        fig.update_yaxes(range=[bottom - 0.05 * (top - bottom), top + 0.05 * (top - bottom)])
    return fig


def _stage_lines(fig: go.Figure, result: Any) -> None:
    for position, (name, depth) in enumerate(result.stages):
        if position > 0:
            fig.add_vline(x=depth - 0.5, line={"dash": "dot", "color": "#888", "width": 1})
        fig.add_annotation(
            x=depth - 0.5,
            y=1.0,
            yref="paper",
            text=name,
            showarrow=False,
            xanchor="left",
            yanchor="bottom",
            font={"size": 10, "color": "#666"},
        )


def ratio_text(curves: Sequence[tuple[str, Any]], metric: str = "grad_norm", depth: int = 1) -> list[str]:
    """One sentence per curve: the metric at ``depth`` relative to the first curve's (for captions)."""

    def value(result: Any) -> float | None:
        point = next((p for p in result.points if p.depth == depth), None)
        return None if point is None else getattr(point, metric)

    if not curves:
        return []
    base = value(curves[0][1])
    lines = []
    for label, result in curves:
        v = value(result)
        if v is None or base is None or not (math.isfinite(v) and math.isfinite(base)) or base == 0:
            lines.append(f"{label}: {v}")
        else:
            lines.append(f"{label}: {v:.2e} ({v / base:.3g}× the first curve)")
    return lines


def loss_figure(steps: Sequence[int], losses: Sequence[float], accuracies: Sequence[float] | None = None) -> go.Figure:
    """Training loss per step (and accuracy on the step's batch on a second axis)."""
    fig = go.Figure()
    clean = [v if math.isfinite(v) else None for v in losses]
    fig.add_trace(go.Scatter(x=list(steps), y=clean, mode="lines", name="loss", line={"color": PALETTE[0]}))
    bad = [s for s, v in zip(steps, losses, strict=True) if not math.isfinite(v)]
    if bad:
        finite = [v for v in clean if v is not None]
        fig.add_trace(
            go.Scatter(
                x=bad,
                y=[max(finite, default=1.0)] * len(bad),
                mode="markers",
                name="loss is NaN/inf (diverged)",
                marker={"symbol": "x", "size": 10, "color": OVERFLOW_COLOUR},
            )
        )
    if accuracies is not None:
        fig.add_trace(
            go.Scatter(
                x=list(steps),
                y=list(accuracies),
                mode="lines",
                name="accuracy (batch)",
                yaxis="y2",
                line={"color": PALETTE[2], "dash": "dot"},
            )
        )
        fig.update_layout(yaxis2={"overlaying": "y", "side": "right", "range": [0, 1], "title": "accuracy"})
    fig.update_layout(
        height=300,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        title="Training loss",
        xaxis_title="step",
        yaxis_title="cross-entropy",
        legend={"orientation": "h", "y": -0.25},
    )
    return fig
