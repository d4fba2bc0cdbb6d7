"""Models worth explaining: a short shapes training whose Grad-CAM lands on the shape, and the gradcam CLI."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from explorer.analysis.saliency import explain_image
from explorer.analysis.training import TrainSpec, shapes_settings, shapes_source, train_on_shapes
from explorer.cli import main
from explorer.config import parse_query
from explorer.data.samples import shape_box, shape_image
from explorer.data.shapes import CLASSES
from explorer.runtime.models import build_seeded
from explorer.runtime.weights import with_checkpoint

ROOT = Path(__file__).resolve().parents[1]
HELD_OUT_SEEDS = range(1000, 1040)


@pytest.fixture(scope="module")
def trained(single_thread):
    """ResNet-20 trained for 300 Adam steps (batch 32, lr 2e-3) on shapes version 2 (the default) drawn
    at 32 px to keep the test short: deterministic from its seeds. (150 steps, enough for version 1,
    gave 19% on version 2.)"""
    source = shapes_source(parse_query("preset=resnet20"), 32)
    return train_on_shapes(TrainSpec(model=source, settings=shapes_settings(steps=300, lr=2e-3), device="cpu")).model


@pytest.mark.slow
def test_training_beats_chance_and_says_so(trained):
    assert trained.accuracy > 2 / len(CLASSES)  # chance is 1/8
    assert f"{trained.accuracy:.0%} accuracy on 128 held-out images" in trained.weights
    assert "300 steps at 32 px" in trained.weights
    assert trained.categories == CLASSES
    assert not trained.built.module.training


@pytest.mark.slow
def test_gradcam_peaks_inside_the_shape_on_most_held_out_images(trained):
    """Measured: 31 of 40 (77%) at the last stage when written; required: at least 60%."""
    hits = 0
    for seed in HELD_OUT_SEEDS:
        x0, y0, x1, y1 = shape_box(seed, 32)
        row, column = explain_image(trained, shape_image(seed, 32)).cam.peak()
        hits += x0 <= column < x1 and y0 <= row < y1
    assert hits / len(HELD_OUT_SEEDS) >= 0.6


def test_checkpoint_model_reports_and_explains(device):
    source = build_seeded(parse_query("preset=resnet20"), seed=0)
    buffer = io.BytesIO()
    torch.save(source.module.state_dict(), buffer)
    model = with_checkpoint(parse_query("preset=resnet20"), buffer.getvalue(), "r20.pt", device)
    assert next(model.built.module.parameters()).device.type == device
    assert model.report.complete
    assert "uploaded checkpoint 'r20.pt' (loaded 116 tensors)" in model.weights
    result = explain_image(model, Image.new("RGB", (50, 40), (200, 30, 30)))
    assert result.cam.heatmap.shape == (32, 32)
    assert result.image.shape == (32, 32, 3)
    assert result.top[0][0].startswith("class ")


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "explorer", *args], cwd=ROOT, capture_output=True, text=True)


def test_gradcam_cli_writes_the_heatmap_and_reports(tmp_path, device):
    checkpoint = tmp_path / "r20.pt"
    torch.save(build_seeded(parse_query("preset=resnet20"), seed=0).module.state_dict(), checkpoint)
    image = tmp_path / "shape.png"
    shape_image(3, 64).save(image)
    out = tmp_path / "cam.npy"
    done = run_cli(
        "--device",
        device,
        "gradcam",
        "preset=resnet20",
        "--image",
        str(image),
        "--checkpoint",
        str(checkpoint),
        "--layer",
        "layer2",
        "--target",
        "4",
        "--out",
        str(out),
        "--json",
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["layer"] == "layer2" and report["target"] == 4
    assert report["heatmap_shape"] == [32, 32]
    assert len(report["top"]) == 5
    heatmap = np.load(out)
    assert heatmap.shape == (32, 32) and heatmap.dtype == np.float32


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["gradcam", "preset=resnet20", "--image", "/nonexistent.png", "--out", "x.npy"], "error: cannot read image"),
        (["gradcam", "preset=resnet20", "--image", __file__, "--out", "x.npy"], "error: this file is not an image"),
        (["gradcam", "preset=resnet20", "--image", __file__, "--out", "x.txt"], "error: --out must name a .npy file"),
        (["gradcam", "preset=nope", "--image", __file__, "--out", "x.npy"], "error: unknown preset 'nope'"),
    ],
)
def test_gradcam_cli_errors_are_one_line(args, message, capsys):
    """In this process (``main`` is what ``python -m explorer`` calls; the command above runs a real one)."""
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith(message), err
    assert len(err.strip().splitlines()) == 1
