"""The Build page's training memory: beside inference activations, with a batch-size slider."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from explorer.config import parse_query
from explorer.formatting import human_bytes
from explorer.measure.memory import training_memory
from explorer.measure.profile import profile

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def metric(at: AppTest, label: str) -> str:
    values = [m.value for m in at.metric if m.label == label]
    assert values, f"no metric {label!r}; have {[m.label for m in at.metric]}"
    return values[0]


def test_batch_slider_moves_activations_and_training_memory():
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["preset"] = "resnet18"
    at.run()
    assert not at.exception, at.exception
    config = parse_query("preset=resnet18")
    result = profile(config)
    assert metric(at, "Activations (batch 1)") == human_bytes(result.activation_bytes)
    assert metric(at, "Training memory (batch 1)") == human_bytes(training_memory(config, 1).saved_bytes)

    at.select_slider(key="build.batch").set_value(32).run()
    assert not at.exception, at.exception
    saved = training_memory(config, 32).saved_bytes
    assert metric(at, "Activations (batch 32)") == human_bytes(32 * result.activation_bytes)
    assert metric(at, "Training memory (batch 32)") == human_bytes(saved) == "709.9 MB"

