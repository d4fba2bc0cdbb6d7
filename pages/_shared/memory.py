"""Training memory computed once per canonical query and batch, shared by every browser session."""

from __future__ import annotations

import streamlit as st

from explorer.analysis.stored import stored_training_memory
from explorer.config import parse_query
from explorer.measure.memory_data import TrainingMemory

#: Batch sizes the Build page offers for its memory figures.
BATCHES = (1, 2, 4, 8, 16, 32, 64, 128, 256)


@st.cache_data(max_entries=128, show_spinner=False)
def cached_training_memory(query: str, batch: int) -> TrainingMemory:
    """A preset's stored count at batch 1 (no torch needed), else counted now; at batch 2 where
    batch 1 cannot train (its ``note`` says why)."""
    stored = stored_training_memory(query, batch)
    if stored is not None:
        return stored
    from explorer.measure.memory import training_memory_or_smallest_batch

    return training_memory_or_smallest_batch(parse_query(query), batch)
