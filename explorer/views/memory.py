"""Training memory beside inference activations, per stage. No torch, no streamlit."""

from __future__ import annotations

import plotly.graph_objects as go

from explorer.measure.memory_data import TrainingMemory
from explorer.measure.profile_data import Profile


def memory_by_stage(result: Profile, memory: TrainingMemory) -> go.Figure:
    """Per stage, in MB at ``memory.batch``: all layer outputs of a forward pass (inference) and the
    tensors autograd saves for the backward pass (training)."""
    stages = [g["stage"] for g in result.grouped("stage")]
    inference = {g["stage"]: g["activation_bytes"] * memory.batch / 1e6 for g in result.grouped("stage")}
    saved = {g["stage"]: g["saved_bytes"] / 1e6 for g in memory.grouped("stage")}
    stages += [s for s in saved if s not in inference]
    fig = go.Figure()
    fig.add_bar(name="inference: layer outputs", x=stages, y=[inference.get(s, 0.0) for s in stages])
    fig.add_bar(name="training: saved for backward", x=stages, y=[saved.get(s, 0.0) for s in stages])
    fig.update_layout(
        title=f"Memory by stage at batch {memory.batch} (MB, float32)",
        barmode="group",
        height=380,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        legend={"orientation": "h", "y": -0.2},
    )
    return fig


def memory_rows(memory: TrainingMemory) -> list[dict[str, object]]:
    """One row per module that saved tensors for backward (they sum to the total)."""
    return [
        {
            "layer": r.name,
            "type": r.type,
            "stage": r.stage,
            "saved for backward (bytes)": r.saved_bytes,
            "tensors": r.tensors,
        }
        for r in memory.layers
    ]
