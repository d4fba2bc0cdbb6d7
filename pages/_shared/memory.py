"""Training memory computed once per canonical query and batch, shared by every browser session."""

from __future__ import annotations

import streamlit as st

from explorer.analysis.memory import TrainingMemory, training_memory
from explorer.config import parse_query

#: Batch sizes the Build page offers for its memory figures.
BATCHES = (1, 2, 4, 8, 16, 32, 64, 128, 256)


@st.cache_data(max_entries=128, show_spinner=False)
def cached_training_memory(query: str, batch: int) -> TrainingMemory:
    return training_memory(parse_query(query), batch)
