"""An uploaded picture is decoded once and kept at the size the models use; the upload's bytes are let
go of (the server's upload manager drops the file, a fresh uploader replaces the one that held it), so
a photo costs its session a few MB, not the file and the whole decoded photo (issue 35)."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image
from streamlit.testing.v1 import AppTest

from explorer.data.images import KEPT_SIDE

PICKER = """
import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx
from pages._shared.inputs import ImageSource, image_picker

picture = image_picker("t", [ImageSource.UPLOAD, ImageSource.SHAPE], 64)
st.write(f"picture {picture.size if picture is not None else None}")
manager = get_script_run_ctx().uploaded_file_mgr
st.write(f"files held {sum(len(files) for files in manager.file_storage.values())}")
"""


def _png(width: int, height: int, seed: int) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return buffer.getvalue()


def _shown(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown]


def _uploaders(at: AppTest) -> list[str]:
    return [str(u.key) for u in at.get("file_uploader")]


def test_an_uploaded_photo_is_kept_small_and_its_bytes_let_go():
    at = AppTest.from_string(PICKER, default_timeout=60)
    at.run()
    assert _shown(at) == ["picture None", "files held 0"] and _uploaders(at) == ["t.upload"]
    at.file_uploader(key="t.upload").set_value(("photo.png", _png(1600, 1200, 1), "image/png"))
    at.run()
    assert not at.exception, at.exception
    assert _shown(at) == [f"picture ({KEPT_SIDE}, {KEPT_SIDE})", "files held 0"]  # 3 MB kept, the file dropped
    assert _uploaders(at) == ["t.upload.1"]  # a fresh uploader in place of the one that held the file
    assert any("Using photo.png (1024×1024 px" in c.value for c in at.caption)
    at.run()  # a slider move elsewhere: the kept picture stays
    assert _shown(at)[0] == f"picture ({KEPT_SIDE}, {KEPT_SIDE})"
    at.file_uploader(key="t.upload.1").set_value(("small.png", _png(80, 60, 2), "image/png"))
    at.run()  # another upload replaces it; a small picture is kept as it is
    assert _shown(at) == ["picture (80, 60)", "files held 0"] and _uploaders(at) == ["t.upload.2"]


def test_a_broken_upload_is_reported_and_let_go_too():
    at = AppTest.from_string(PICKER, default_timeout=60)
    at.run()
    at.file_uploader(key="t.upload").set_value(("broken.png", _png(64, 64, 3)[:70], "image/png"))
    at.run()
    assert not at.exception, at.exception
    assert _shown(at) == ["picture None", "files held 0"] and _uploaders(at) == ["t.upload.1"]
    assert any("This image cannot be used" in e.value and "truncated or corrupt" in e.value for e in at.error)
