"""The timeline of CNN design as a table whose rows are links (no torch, no streamlit)."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from explorer.analysis.history import TimelineRow


def timeline_frame(rows: Sequence[TimelineRow]) -> pd.DataFrame:
    """One row per milestone: year, name, idea, measured cost, published accuracy, and the links
    that open it in the Build and Graph pages (relative URLs: the query is the config)."""
    return pd.DataFrame(
        {
            "year": [r.milestone.year for r in rows],
            "architecture": [r.milestone.name for r in rows],
            "idea": [r.milestone.idea for r in rows],
            "parameters (M)": [round(r.params / 1e6, 2) for r in rows],
            "MACs (G)": [round(r.macs / 1e9, 3) for r in rows],
            "input (px)": [r.resolution for r in rows],
            "top-1 (%)": [r.top1 for r in rows],
            "top-1 from": [r.source or "not trained on ImageNet" for r in rows],
            "build": [f"/?{r.query}" for r in rows],
            "graph": [f"/graph?{r.query}" for r in rows],
        }
    )
