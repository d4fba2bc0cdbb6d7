"""The one plotly layout the views share: title, tight margins, the legend below the plot (above
it, a multi-row legend covers the title)."""

from __future__ import annotations

import plotly.graph_objects as go


def standard_layout(fig: go.Figure, title: str, height: int = 400) -> go.Figure:
    fig.update_layout(
        title=title,
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        height=height,
        legend={"orientation": "h", "yanchor": "top", "y": -0.18, "x": 0},
    )
    return fig
