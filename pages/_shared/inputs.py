"""Inputs the analysis pages share: the image to analyse and an uploaded checkpoint."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from enum import StrEnum

import streamlit as st
from PIL import Image
from streamlit.runtime.uploaded_file_manager import UploadedFile

from explorer.data.images import ImageError, decode_image, kept_square
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
        if source is ImageSource.UPLOAD:
            return _uploaded_picture(prefix)
        photo = st.camera_input("Take a picture", key=f"{prefix}.camera")
        return _decoded(prefix, photo) if photo is not None else None
    except ImageError as error:
        st.error(f"This image cannot be used: {error}.")
        return None


def _decoded(prefix: str, photo: UploadedFile) -> Image.Image:
    """The camera's picture, decoded once per photo (not again on every slider move), kept as the
    square the models see (a camera's photo is small: its bytes stay with the widget that shows it)."""
    slot = Slot(f"{prefix}.decoded_camera", DecodedUpload)
    kept = slot.get()
    if kept is None or kept.file_id != photo.file_id:
        kept = DecodedUpload(photo.file_id, kept_square(decode_image(photo.getvalue())), photo.name)
        slot.set(kept)
    return kept.image


def _uploaded_picture(prefix: str) -> Image.Image | None:
    """The picture last uploaded on this page (None before the first), with the reason shown when
    a file could not be used.

    An upload is decoded once and kept as the square the models and overlays are made from (at most
    3 MB), then let go of as a checkpoint is: the server drops the file's bytes and the uploader is
    replaced by a fresh one, which replaces the picture when used. Kept whole, a 16 MB photo cost its
    session 46 MB for as long as it lasted (issue 35)."""
    round_ = st.session_state.get(f"{prefix}.upload_round", 0)
    if st.session_state.pop(f"{prefix}.upload_release", False):
        release_free_memory()  # the last upload's bytes are unreferenced now: give their pages back
    key = f"{prefix}.upload" if round_ == 0 else f"{prefix}.upload.{round_}"  # the first keeps its plain name
    slot = Slot(f"{prefix}.decoded_upload", DecodedUpload)
    upload = st.file_uploader("Image (PNG, JPEG, WebP, GIF, ...)", key=key)
    if upload is not None:
        try:
            slot.set(DecodedUpload(upload.file_id, kept_square(decode_image(upload.getvalue())), upload.name))
            st.session_state.pop(f"{prefix}.upload_error", None)
        except ImageError as refused:
            slot.pop()
            st.session_state[f"{prefix}.upload_error"] = f"This image cannot be used: {refused}."
        forget_upload(upload)
        del st.session_state[key], upload  # the widget's hold on the file too
        st.session_state[f"{prefix}.upload_round"] = round_ + 1
        st.session_state[f"{prefix}.upload_release"] = True
        st.rerun()  # the next run draws a fresh uploader in place of the one that held the file
    problem = st.session_state.get(f"{prefix}.upload_error")
    if problem:
        st.error(problem)
        return None
    kept = slot.get()
    if kept is None:
        return None
    width, height = kept.image.size
    st.caption(f"Using {kept.name} ({width}×{height} px as kept for the models); upload another to replace it")
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
