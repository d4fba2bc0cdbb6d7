"""Analysis data -> plotly figures. No torch, no streamlit: figures are plain data too."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go

from explorer.measure.profile_data import Profile

METRIC_LABELS = {
    "params": "Parameters",
    "macs": "MACs (multiply-adds)",
    "flops": "FLOPs (2 x MACs)",
    "activation_bytes": "Activation memory (bytes)",
}


def _metric_value(row: Any, metric: str) -> float:
    if metric == "flops":
        return 2 * (row["macs"] if isinstance(row, dict) else row.macs)
    return row[metric] if isinstance(row, dict) else getattr(row, metric)


def _layout(fig: go.Figure, title: str) -> go.Figure:
    fig.update_layout(title=title, margin={"l": 10, "r": 10, "t": 40, "b": 10}, height=380)
    return fig


def group_bar(groups: Sequence[dict[str, Any]], by: str, metric: str, title: str | None = None) -> go.Figure:
    """Horizontal bars of ``metric`` per group (stage or layer type), largest share labelled."""
    names = [str(g[by]) for g in groups]
    values = [_metric_value(g, metric) for g in groups]
    total = sum(values) or 1
    fig = go.Figure(
        go.Bar(
            x=values,
            y=names,
            orientation="h",
            text=[f"{v / total:.0%}" for v in values],
            textposition="auto",
            hovertemplate="%{y}: %{x:,.0f}<extra></extra>",
            marker_color="#4C78A8",
        )
    )
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(title=METRIC_LABELS[metric])
    return _layout(fig, title or f"{METRIC_LABELS[metric]} by {by}")


def hierarchy(profile: Profile, metric: str, kind: str = "treemap") -> go.Figure:
    """Treemap or sunburst: model -> stage -> block -> layer, sized by ``metric``."""
    ids, labels, parents, values = ["model"], [profile.query], [""], [0.0]
    seen: set[str] = {"model"}
    for row in profile.layers:
        value = float(_metric_value(row, metric))
        if value <= 0:
            continue
        stage_id = f"stage:{row.stage}"
        if stage_id not in seen:
            seen.add(stage_id)
            ids.append(stage_id)
            labels.append(row.stage)
            parents.append("model")
            values.append(0.0)
        parent = stage_id
        if row.block:
            block_id = f"block:{row.block}"
            if block_id not in seen:
                seen.add(block_id)
                ids.append(block_id)
                labels.append(row.block.rsplit(".", 1)[-1] if "." in row.block else row.block)
                parents.append(stage_id)
                values.append(0.0)
            parent = block_id
        ids.append(f"layer:{row.name}")
        labels.append(row.name.rsplit(".", 1)[-1] or row.name)
        parents.append(parent)
        values.append(value)
    trace_type = go.Treemap if kind == "treemap" else go.Sunburst
    fig = go.Figure(
        trace_type(
            ids=ids,
            labels=labels,
            parents=parents,
            values=values,
            branchvalues="remainder",
            hovertemplate="%{id}<br>%{value:,.0f}<extra></extra>",
            maxdepth=3,
        )
    )
    return _layout(fig, f"{METRIC_LABELS[metric]}: stage, block, layer")
