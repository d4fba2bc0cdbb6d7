"""Inputs the analysis pages share: the image to analyse and an uploaded checkpoint."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import streamlit as st
from PIL import Image

from explorer.config import ModelConfig
from explorer.data.images import ImageError, decode_image
from explorer.data.samples import CREDITS, SAMPLES, load_sample, shape_image
from explorer.data.shapes import CLASSES
from explorer.runtime.weights import ExplainableModel, with_checkpoint
from pages._shared.device import current_device
from pages._shared.state import KeyedModel, Slot


def image_picker(
    prefix: str, sources: Sequence[str], shape_resolution: int, default_shape: str | None = None, default_seed: int = 7
) -> Image.Image | None:
    """The image to analyse from one of ``sources`` (Sample, Upload, Camera, Generated shape); None,
    with the reason shown, while there is none. Uploads go through the one hardened decoder."""
    source = st.radio("Image from", list(sources), horizontal=True, key=f"{prefix}.image_source")
    try:
        if source == "Generated shape":
            left, right = st.columns(2)
            shapes = ["any", *CLASSES]
            shape = left.selectbox("Shape", shapes, index=shapes.index(default_shape or "any"), key=f"{prefix}.shape")
            seed = right.number_input("Shape seed", 0, 10_000, default_seed, key=f"{prefix}.shape_seed")
            return shape_image(int(seed), shape_resolution, None if shape == "any" else shape)
        if source == "Sample":
            name = st.selectbox("Sample", list(SAMPLES), key=f"{prefix}.sample")
            st.caption(f"{name}: {CREDITS[name]}")
            return load_sample(name)
        upload = (
            st.camera_input("Take a picture", key=f"{prefix}.camera")
            if source == "Camera"
            else st.file_uploader("Image (PNG, JPEG, WebP, GIF, ...)", key=f"{prefix}.upload")
        )
        return decode_image(upload.getvalue()) if upload is not None else None
    except ImageError as error:
        st.error(f"This image cannot be used: {error}.")
        return None


def uploaded_checkpoint(prefix: str, config: ModelConfig) -> ExplainableModel | None:
    """A state dict uploaded on this page, loaded into ``config``'s model once per file and config
    (kept in the session: another user's upload is never seen)."""
    upload = st.file_uploader("State dict (.pt, .pth)", type=["pt", "pth"], key=f"{prefix}.checkpoint")
    if upload is None:
        return None
    data = upload.getvalue()
    key = (config.query, hashlib.sha256(data).hexdigest())
    slot = Slot(f"{prefix}.checkpoint_model", KeyedModel)
    cached = slot.get()
    if cached is None or cached.key != key:
        cached = KeyedModel(key, with_checkpoint(config, data, upload.name, current_device()))
        slot.set(cached)
    return cached.model


def published_weights_choice(key: str) -> str:
    """Which published accuracies to show: the original papers' recipes or torchvision's best."""
    return st.radio(
        "Weights",
        ["v1", "default"],
        format_func={"v1": "original recipe (IMAGENET1K_V1)", "default": "torchvision's best (DEFAULT)"}.get,
        horizontal=True,
        key=key,
    )
