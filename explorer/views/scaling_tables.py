"""Scaling-lab data as pandas tables (for display and CSV download): numbers stay numbers."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from explorer.analysis.latency import Timing
from explorer.analysis.published import PublishedWeights
from explorer.analysis.scaling import (
    GridCell,
    PublishedPoint,
    RoundingExplanation,
    StageComparison,
    SweepPoint,
)


def sweep_frame(points: Sequence[SweepPoint]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "phi": [p.phi for p in points],
            "depth x": [p.achieved.depth for p in points],
            "width x": [p.achieved.width for p in points],
            "resolution": [p.resolution for p in points],
            "blocks": [sum(s.blocks for s in p.stages) for p in points],
            "params": [p.params for p in points],
            "rule params": [round(p.predicted_params) for p in points],
            "MACs": [p.macs for p in points],
            "rule MACs": [round(p.predicted_macs) for p in points],
            "2^phi MACs": [round(p.nominal_macs) for p in points],
            "MACs / rule": [p.macs_vs_rule for p in points],
            "query": [p.query for p in points],
        }
    )


def stage_frame(points: Sequence[SweepPoint], what: str = "blocks") -> pd.DataFrame:
    """One row per phi, one column per stage: blocks or output channels."""
    data: dict[str, list[object]] = {"phi": [p.phi for p in points]}
    for stage in points[0].stages if points else ():
        data[stage.name] = [next((s.__dict__[what] for s in p.stages if s.name == stage.name), None) for p in points]
    return pd.DataFrame(data)


def rounding_frame(explanation: RoundingExplanation) -> pd.DataFrame:
    rows = explanation.stages
    return pd.DataFrame(
        {
            "stage": [r.name for r in rows],
            "blocks (phi=0)": [r.base_blocks for r in rows],
            "blocks ideal": [round(r.ideal_blocks, 2) for r in rows],
            "blocks built": [r.blocks for r in rows],
            "channels (phi=0)": [r.base_channels for r in rows],
            "channels ideal": [round(r.ideal_channels, 1) for r in rows],
            "channels built": [r.channels for r in rows],
            "side (phi=0)": [r.base_side for r in rows],
            "side ideal": [round(r.ideal_side, 2) for r in rows],
            "side built": [r.side for r in rows],
        }
    )


def factor_frame(explanation: RoundingExplanation) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "cause": [f.name for f in explanation.factors] + ["total"],
            "rule expects": [f.expected for f in explanation.factors] + [None],
            "measured alone": [f.measured for f in explanation.factors] + [None],
            "measured / rule": [f.ratio for f in explanation.factors] + [explanation.ratio],
        }
    )


def published_frame(
    points: Sequence[PublishedPoint], params: int | None = None, macs: int | None = None
) -> pd.DataFrame:
    """B0-B7 with their own multipliers and nominal phi; with ``params``/``macs`` of a design, the
    design's ratio to each."""
    frame = pd.DataFrame(
        {
            "model": [p.name for p in points],
            "depth x": [p.multipliers.depth for p in points],
            "width x": [p.multipliers.width for p in points],
            "resolution": [p.resolution for p in points],
            "nominal phi": [round(p.nominal_phi, 2) for p in points],
            "params": [p.params for p in points],
            "MACs": [p.macs for p in points],
        }
    )
    if params is not None and macs is not None:
        frame["design params / this"] = [params / p.params for p in points]
        frame["design MACs / this"] = [macs / p.macs for p in points]
    return frame


def grid_frame(cells: Sequence[GridCell]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "alpha": [c.alpha for c in cells],
            "resolution": [c.resolution for c in cells],
            "params": [c.params for c in cells],
            "MACs": [c.macs for c in cells],
            "query": [c.query for c in cells],
        }
    )


def accuracy_frame(entries: Sequence[PublishedWeights]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "model": [e.model for e in entries],
            "weights": [e.weights for e in entries],
            "top-1 %": [e.top1 for e in entries],
            "top-5 %": [e.top5 for e in entries],
            "params": [e.params for e in entries],
            "GMACs (torchvision _ops)": [e.gmacs for e in entries],
            "eval crop": [e.crop_size for e in entries],
        }
    )


def timing_frame(timings: Sequence[Timing]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "query": [t.query for t in timings],
            "batch": [t.batch for t in timings],
            "MACs (batch 1)": [t.macs for t in timings],
            "median ms": [t.median_s * 1000 for t in timings],
            "min ms": [t.min_s * 1000 for t in timings],
            "images/s": [t.throughput for t in timings],
            "ns per MAC": [t.ns_per_mac for t in timings],
            "GMAC/s": [t.gmacs_per_s for t in timings],
            "peak memory MB": [None if t.peak_memory_bytes is None else t.peak_memory_bytes / 1e6 for t in timings],
            "memory measured as": [t.memory_method for t in timings],
        }
    )


def compare_frame(rows: Sequence[StageComparison]) -> pd.DataFrame:
    """Per stage: each pin's blocks, channels, params and MACs; for pins 2.., the difference to pin 1."""
    if not rows:
        return pd.DataFrame()
    data: dict[str, list[object]] = {"stage": [r.stage for r in rows]}
    count = len(rows[0].queries)
    for i in range(count):
        for what, label in (("blocks", "blocks"), ("channels", "channels"), ("params", "params"), ("macs", "MACs")):
            data[f"{i + 1}: {label}"] = [getattr(r, what)[i] for r in rows]
            if i > 0 and what in ("blocks", "params", "macs"):
                values = [getattr(r, what) for r in rows]
                data[f"{i + 1}: Δ{label} vs 1"] = [
                    None if v[i] is None or v[0] is None else v[i] - v[0] for v in values
                ]
    frame = pd.DataFrame(data)
    for column in frame.columns[1:]:
        frame[column] = frame[column].astype("Int64")
    return frame
