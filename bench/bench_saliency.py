"""Saliency methods' cost (issue 37), as ratios measured in one run.

1. Integrated Gradients (captum's defaults: 50 steps, zero baseline) on ResNet-50 at 224 px, batched with
   ``internal_batch_size`` as the app batches it (:func:`explorer.analysis.methods.ig_batch`: 16 images a
   batch at 224 px), and one step at a time, each as a multiple of one forward + backward pass of the
   same model and image (median of 3 after a warm-up). The goal: batched within 60 passes' time.
2. The sanity strip of the shipped ResNet-8 (64 px; Grad-CAM, gradients and Guided Backprop, head to
   stem on a private copy) and its picture: median of 5 after a warm-up. The goal: under 2 s.

    .venv/bin/python bench/bench_saliency.py [--threads N]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from explorer.analysis.attribution import attribute, model_input
from explorer.analysis.methods import Method, MethodOptions, ig_batch
from explorer.analysis.sanity import cascading_randomization
from explorer.config import parse_query
from explorer.data.images import display_image
from explorer.data.samples import shape_image
from explorer.runtime.models import instantiate
from explorer.runtime.shipped import load_shipped, shipped_models
from explorer.views.saliency_methods import sanity_strip


def median_time(function: Callable[[], object], repeats: int) -> float:
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def once(function: Callable[[], object]) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def integrated_gradients() -> None:
    built = instantiate(parse_query("preset=resnet50"), "cpu")
    model = built.module.eval()
    image = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(0))

    def forward_backward() -> None:
        model.zero_grad(set_to_none=True)
        model(image.clone().requires_grad_(True))[0, 0].backward()

    pass_s = median_time(forward_backward, 3)
    batch = ig_batch(50, 224, 224)
    batched_s = once(lambda: attribute(built, image, Method.INTEGRATED_GRADIENTS, target=0))
    single_s = once(
        lambda: attribute(built, image, Method.INTEGRATED_GRADIENTS, 0, MethodOptions(internal_batch_size=1))
    )
    print("Integrated Gradients, ResNet-50 at 224 px, 50 steps (captum's defaults):")
    print(f"  one forward + backward pass           {pass_s * 1000:8.0f} ms")
    print(
        f"  batched, {batch} steps a batch            {batched_s:8.2f} s  = {batched_s / pass_s:5.1f} passes (goal: 60)"
    )
    print(f"  one step at a time                    {single_s:8.2f} s  = {single_s / pass_s:5.1f} passes")


def sanity_strip_time() -> None:
    shipped = next(s for s in shipped_models() if s.name == "resnet8-cifar")
    model = load_shipped(shipped, "cpu")
    picture = shape_image(21, 200, "star")
    image, shown = model_input(model, picture), display_image(picture, model.config.input_resolution)

    def strip() -> None:
        sanity_strip(cascading_randomization(model.built, image), shown)

    check_s = median_time(lambda: cascading_randomization(model.built, image), 5)
    strip_s = median_time(strip, 5)
    check = cascading_randomization(model.built, image)
    print(f"Sanity strip, shipped {shipped.name} at 64 px ({len(check.steps)} steps x 3 methods, head to stem):")
    print(f"  cascading randomisation                 {check_s:6.2f} s")
    print(f"  ... and the strip picture               {strip_s:6.2f} s  (goal: under 2 s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", message="Setting backward hooks on ReLU")
    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads"
    )
    print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    integrated_gradients()
    sanity_strip_time()
    print(f"load average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
