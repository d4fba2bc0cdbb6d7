"""Analyses computed once per canonical query string and shared by every browser session (the
query is the key, so students opening the same link share one computation)."""

from __future__ import annotations

import streamlit as st

from explorer.analysis.graph.data import LayerGraph
from explorer.analysis.stored import stored_profile
from explorer.config import parse_query
from explorer.measure.profile_data import Profile


@st.cache_data(max_entries=256, show_spinner=False)
def cached_profile(query: str) -> Profile:
    """A preset's stored profile (no torch needed: the first page draws before torch is imported),
    else computed now."""
    stored = stored_profile(query)
    if stored is not None:
        return stored
    from explorer.measure.profile import profile

    return profile(parse_query(query))


@st.cache_data(max_entries=32, show_spinner=False)
def cached_graph(query: str) -> LayerGraph:
    from explorer.analysis.graph import layer_graph

    return layer_graph(parse_query(query))


@st.cache_data(max_entries=64, show_spinner=False)
def cached_summary(query: str) -> str:
    from explorer.analysis.summary import summary_text

    return summary_text(parse_query(query))
