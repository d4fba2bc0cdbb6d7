"""The one plotly layout the views share: title, tight margins, the legend below the plot (above
it, a multi-row legend covers the title)."""

from __future__ import annotations

import math

import plotly.graph_objects as go


def standard_layout(fig: go.Figure, title: str, height: int = 400) -> go.Figure:
    fig.update_layout(
        title=title,
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        height=height,
        legend={"orientation": "h", "yanchor": "top", "y": -0.18, "x": 0},
    )
    return fig


def marked_cost(fig: go.Figure, x: float, text: str, color: str, y: float = 1.0) -> go.Figure:
    """A dashed vertical line at ``x`` on a log x axis, labelled ``text`` near ``y`` (0 bottom, 1 top).
    Written out because plotly's ``add_vline(annotation_text=...)`` puts the label at ``x`` itself,
    which a log axis reads as 10^x: off the plot (the line itself lands right)."""
    fig.add_vline(x=x, line={"color": color, "dash": "dash"})
    fig.add_annotation(
        x=math.log10(x),
        xref="x",
        y=y,
        yref="y domain",
        text=text,
        showarrow=False,
        xanchor="right",
        yanchor="top" if y > 0.5 else "bottom",
    )
    return fig
