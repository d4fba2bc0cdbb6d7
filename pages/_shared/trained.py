"""Trained weights that are not shipped, loaded once per worker for every session and page:
torchvision's ImageNet weights from the torch cache and EfficientNet-Lite0 from its package (a
ResNet-50 is 100 MB: Saliency and Inside share one copy, not one each)."""

from __future__ import annotations

import streamlit as st

from explorer.config import parse_query
from explorer.runtime.packaged import load_packaged, packaged_lite0
from explorer.runtime.weights import ExplainableModel, with_imagenet_weights


@st.cache_resource(max_entries=3, show_spinner=False)
def imagenet_model(query: str, device: str) -> ExplainableModel:
    """``query``'s ImageNet weights from the torch cache (never a download here; Saliency's button
    downloads them first)."""
    return with_imagenet_weights(parse_query(query), device, download=False)


@st.cache_resource(max_entries=2, show_spinner=False)
def lite0_model(device: str) -> ExplainableModel:
    """EfficientNet-Lite0 with its ImageNet weights, from its package (sha256 checked on load)."""
    return load_packaged(packaged_lite0(), device)
