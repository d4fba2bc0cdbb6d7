"""Inputs the analysis pages share: the image to analyse and an uploaded checkpoint."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from enum import StrEnum

import streamlit as st
from PIL import Image
from streamlit.runtime.uploaded_file_manager import UploadedFile

from explorer.data.images import ImageError, decode_image
from explorer.data.samples import CREDITS, SAMPLES, load_sample, shape_image
from explorer.data.shapes import CLASSES
from explorer.knobs import ModelConfig
from explorer.runtime.release import release_free_memory
from explorer.runtime.weights import ExplainableModel, WeightsError, with_checkpoint
from pages._shared.device import current_device
from pages._shared.queue import slow_work
from pages._shared.routing import forget_upload
from pages._shared.state import DecodedUpload, KeyedModel, Slot


class ImageSource(StrEnum):
    """Where the image to analyse comes from; the value is the radio's label."""

    SAMPLE = "Sample"
    UPLOAD = "Upload"
    CAMERA = "Camera"
    SHAPE = "Generated shape"


def image_source(prefix: str) -> ImageSource | None:
    """The source ``image_picker(prefix, ...)`` shows (None before its first run)."""
    chosen = st.session_state.get(f"{prefix}.image_source")
    return None if chosen is None else ImageSource(chosen)


def image_picker(
    prefix: str,
    sources: Sequence[ImageSource],
    shape_resolution: int,
    default_shape: str | None = None,
    default_seed: int = 7,
) -> Image.Image | None:
    """The image to analyse from one of ``sources``; None, with the reason shown, while there is none.
    Uploads go through the one hardened decoder."""
    source = ImageSource(st.radio("Image from", list(sources), horizontal=True, key=f"{prefix}.image_source"))
    try:
        if source is ImageSource.SHAPE:
            left, right = st.columns(2)
            shapes = ["any", *CLASSES]
            shape = left.selectbox("Shape", shapes, index=shapes.index(default_shape or "any"), key=f"{prefix}.shape")
            seed = right.number_input("Shape seed", 0, 10_000, default_seed, key=f"{prefix}.shape_seed")
            return shape_image(int(seed), shape_resolution, None if shape == "any" else shape)
        if source is ImageSource.SAMPLE:
            name = st.selectbox("Sample", list(SAMPLES), key=f"{prefix}.sample")
            st.caption(f"{name}: {CREDITS[name]}")
            return load_sample(name)
        upload = (
            st.camera_input("Take a picture", key=f"{prefix}.camera")
            if source is ImageSource.CAMERA
            else st.file_uploader("Image (PNG, JPEG, WebP, GIF, ...)", key=f"{prefix}.upload")
        )
        return _decoded(prefix, upload) if upload is not None else None
    except ImageError as error:
        st.error(f"This image cannot be used: {error}.")
        return None


def _decoded(prefix: str, upload: UploadedFile) -> Image.Image:
    """The upload's picture, decoded once per file (not again on every slider move)."""
    slot = Slot(f"{prefix}.decoded_upload", DecodedUpload)
    kept = slot.get()
    if kept is None or kept.file_id != upload.file_id:
        kept = DecodedUpload(upload.file_id, decode_image(upload.getvalue()))
        slot.set(kept)
    return kept.image


def uploaded_checkpoint(prefix: str, config: ModelConfig) -> ExplainableModel | None:
    """A state dict uploaded on this page, loaded into ``config``'s model (kept in the session: another
    user's upload is never seen).

    The upload is read in place (``torch.load`` on the uploaded file itself, its sha256 over its buffer:
    no copy), in the server's slow-work queue, and then let go of, whether it loaded or was refused:
    the server drops its bytes and the uploader is replaced by a fresh one. The loaded model
    stays; for another design the file is uploaded again."""
    round_ = st.session_state.get(f"{prefix}.checkpoint_round", 0)
    if st.session_state.pop(f"{prefix}.checkpoint_release", False):
        release_free_memory()  # the last upload's bytes are unreferenced now: give their pages back
    slot = Slot(f"{prefix}.checkpoint_model", KeyedModel)
    upload = st.file_uploader(
        "State dict (.pt, .pth)", type=["pt", "pth"], key=f"{prefix}.checkpoint.{round_}", help=UPLOAD_HELP
    )
    if upload is not None:
        try:
            with slow_work(f"Loading {upload.name}"):
                model = with_checkpoint(config, upload, upload.name, current_device())
            slot.set(KeyedModel((config.query, hashlib.sha256(upload.getbuffer()).hexdigest()), model))
            st.session_state.pop(f"{prefix}.checkpoint_error", None)
        except WeightsError as error:
            st.session_state[f"{prefix}.checkpoint_error"] = f"{upload.name}: {error}"
        forget_upload(upload)
        del st.session_state[f"{prefix}.checkpoint.{round_}"], upload  # the widget's hold on the file too
        st.session_state[f"{prefix}.checkpoint_round"] = round_ + 1
        st.session_state[f"{prefix}.checkpoint_release"] = True
        st.rerun()  # the next run draws a fresh uploader in place of the one that held the file
    shown = st.session_state.get(f"{prefix}.checkpoint_error")
    if shown:
        st.error(shown)
    kept = slot.get()
    if kept is None:
        return None
    if kept.key[0] != config.query:
        st.info(
            f"The checkpoint was loaded into `{kept.key[0]}`; upload it again to load it into this design.",
            icon=":material/info:",
        )
        return None
    st.caption(f"Loaded: {kept.model.weights}")
    return kept.model


#: What the checkpoint uploader says about the file it takes.
UPLOAD_HELP = (
    "A PyTorch state dict (torch.save of model.state_dict(), or a dict holding one under 'state_dict' or "
    "'model'), read safely (weights_only): tensors that match this design's names and shapes load"
)


def published_weights_choice(key: str) -> str:
    """Which published accuracies to show: the original papers' recipes or torchvision's best."""
    return st.radio(
        "Weights",
        ["v1", "default"],
        format_func={"v1": "original recipe (IMAGENET1K_V1)", "default": "torchvision's best (DEFAULT)"}.get,
        horizontal=True,
        key=key,
    )
