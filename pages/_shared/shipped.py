"""The shipped models, loaded once per (name, device) for every session and page, and the one a
config can train on from (its exact architecture)."""

from __future__ import annotations

import streamlit as st

from explorer.analysis.training import warm_start_for
from explorer.knobs import ModelConfig
from explorer.runtime.shipped import load_shipped
from explorer.runtime.weights import ExplainableModel


@st.cache_resource(max_entries=8, show_spinner=False)
def shipped_model(name: str, device: str) -> ExplainableModel:
    """A shipped model (sha256 checked), shared: never train it in place (training copies it)."""
    return load_shipped(name, device)


def warm_start(config: ModelConfig, device: str, resolution: int | None = None) -> ExplainableModel | None:
    """The shipped model of exactly ``config``'s architecture (shapes version), to train on from."""
    match = warm_start_for(config, resolution)
    return None if match is None else shipped_model(match.name, device)
