"""Grad-CAM cost against one plain forward + backward of the same model and image.

Grad-CAM needs one forward pass (for the predictions), one forward + backward for captum's
LayerGradCam, and an upsampling, so about 1.3-1.5x a bare forward + backward is the expected
ratio; the script measures it, in one run, for a few models (median of 5 after one warm-up).

    python bench/bench_gradcam.py
"""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from timing import median_time

from explorer.analysis.saliency import grad_cam
from explorer.config import parse_query
from explorer.runtime.models import instantiate

QUERIES = ["preset=resnet20", "preset=resnet18", "preset=mobilenet_v2", "preset=resnet50"]


def forward_backward(model: torch.nn.Module, image: torch.Tensor) -> None:
    model.zero_grad(set_to_none=True)
    model(image).max().backward()


def main() -> None:
    print(f"{'model':<22} {'fwd+bwd':>10} {'Grad-CAM':>10} {'ratio':>7}")
    for query in QUERIES:
        built = instantiate(parse_query(query), "cpu")
        side = built.config.input_resolution
        image = torch.randn(1, built.config.in_channels, side, side)
        model = built.module.eval()
        bare_s = median_time(partial(forward_backward, model, image))
        cam_s = median_time(partial(grad_cam, built, image))
        print(f"{query:<22} {bare_s * 1000:8.0f} ms {cam_s * 1000:8.0f} ms {cam_s / bare_s:6.2f}x")


if __name__ == "__main__":
    main()
