"""Every page that runs a model, through AppTest with the sidebar's device selector set to each
device this machine has (``explorer.runtime.device.available_devices()``: the CPU on CI, CUDA as well on a
GPU machine). The page must say which device it runs on and show its real results there."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import torch
from PIL import Image
from streamlit.testing.v1 import AppTest

from explorer.config import parse_query
from explorer.runtime.device import describe
from explorer.runtime.models import build_seeded
from explorer.views.weights import WeightsSource

APP = str(Path(__file__).resolve().parents[1] / "app.py")
TINY = {"family": "plain", "depth": "8", "width": "4", "resolution": "16"}
SMALL_DEFORM = {"family": "plain", "depth": "4", "width": "4", "deform": "on", "resolution": "16"}


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def open_on(page: str, device: str, **query: str) -> AppTest:
    """Open ``page`` with ``query`` and ``device`` chosen in the sidebar."""
    at = AppTest.from_file(APP, default_timeout=300)
    for key, value in query.items():
        at.query_params[key] = value
    at.session_state["device_choice"] = device  # the sidebar picker's choice (AppTest renders pages alone later)
    at.switch_page(page)
    at.run()
    assert not at.exception, at.exception
    assert at.sidebar.selectbox(key="device").value == device
    badge = " ".join(c.value for c in at.sidebar.caption)
    assert f"Models run on **{describe(torch.device(device))}**" in badge
    return at


def test_signal_page_draws_its_curves_on_each_device(device):
    at = open_on("pages/signal.py", device, **TINY)
    assert len(at.get("plotly_chart")) == 2
    assert "9 conv/linear layers" in " ".join(c.value for c in at.caption)
    assert not at.error


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def test_saliency_page_explains_with_a_checkpoint_on_each_device(device):
    at = open_on("pages/saliency.py", device, preset="resnet20")
    at.radio(key="saliency.image_source").set_value("Upload").run()
    at.file_uploader(key="saliency.upload").set_value(("red.png", _png(Image.new("RGB", (80, 60), "red")), "image/png"))
    next(r for r in at.radio if r.label == "Weights").set_value(WeightsSource.CHECKPOINT).run()
    buffer = io.BytesIO()
    torch.save(build_seeded(parse_query("preset=resnet20"), seed=0).module.state_dict(), buffer)
    at.file_uploader(key="saliency.checkpoint.0").set_value(("r20.pt", buffer.getvalue(), "application/octet-stream"))
    at.run()
    assert not at.exception, at.exception
    assert len(at.image) >= 3 and len(at.dataframe[0].value["class"]) == 5


def test_deformable_page_trains_its_offsets_on_each_device(device):
    at = open_on("pages/deform.py", device, **SMALL_DEFORM)
    at.slider(key="deform.steps").set_value(2)
    at.button(key="deform.train").click().run()
    assert not at.exception, at.exception
    assert "trained here on generated shapes for 2 steps" in " ".join(c.value for c in at.caption)
    after = next(
        json.loads(c.proto.spec)
        for c in at.get("plotly_chart")
        if json.loads(c.proto.spec)["layout"].get("title", {}).get("text", "").startswith("After:")
    )
    deformed = next(t for t in after["data"] if t.get("name", "").startswith("deformed"))
    regular = next(t for t in after["data"] if t.get("name", "").startswith("regular"))
    assert deformed["x"] != regular["x"]  # learned offsets moved the points
