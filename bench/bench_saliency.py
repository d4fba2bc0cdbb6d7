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


def once(function: Callable[[], object]) -> tuple[float, float]:
    """(wall seconds, this process's CPU seconds) of one call. With one thread the CPU time is the work
    done, whatever else the shared machine runs; the wall time is what a user waits."""
    wall, cpu = time.perf_counter(), time.process_time()
    function()
    return time.perf_counter() - wall, time.process_time() - cpu


def median_time(function: Callable[[], object], repeats: int) -> tuple[float, float]:
    function()
    times = [once(function) for _ in range(repeats)]
    return statistics.median(t[0] for t in times), statistics.median(t[1] for t in times)


def integrated_gradients() -> None:
    built = instantiate(parse_query("preset=resnet50"), "cpu")
    model = built.module.eval()
    image = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(0))

    def forward_backward() -> None:
        model.zero_grad(set_to_none=True)
        model(image.clone().requires_grad_(True))[0, 0].backward()

    pass_wall, pass_cpu = median_time(forward_backward, 3)
    batch = ig_batch(50, 224, 224)
    batched = once(lambda: attribute(built, image, Method.INTEGRATED_GRADIENTS, target=0))
    stepwise = MethodOptions(internal_batch_size=1)
    single = once(lambda: attribute(built, image, Method.INTEGRATED_GRADIENTS, 0, stepwise))
    after_wall, after_cpu = median_time(forward_backward, 3)  # the pass again: how far the machine drifted
    print("Integrated Gradients, ResNet-50 at 224 px, 50 steps (captum's defaults); wall s / CPU s:")
    print(f"  one forward + backward pass          {pass_wall:7.2f} / {pass_cpu:6.2f}")
    print(f"  ... measured again afterwards        {after_wall:7.2f} / {after_cpu:6.2f}")
    for name, (wall, cpu) in ((f"batched, {batch} steps a batch", batched), ("one step at a time", single)):
        print(
            f"  {name:<36} {wall:7.2f} / {cpu:6.2f}   = {wall / pass_wall:5.1f} passes by wall time, "
            f"{cpu / pass_cpu:5.1f} by CPU time (goal: 60)"
        )


def sanity_strip_time() -> None:
    shipped = next(s for s in shipped_models() if s.name == "resnet8-cifar")
    model = load_shipped(shipped, "cpu")
    picture = shape_image(21, 200, "star")
    image, shown = model_input(model, picture), display_image(picture, model.config.input_resolution)

    def strip() -> None:
        sanity_strip(cascading_randomization(model.built, image), shown)

    check_wall, check_cpu = median_time(lambda: cascading_randomization(model.built, image), 5)
    strip_wall, strip_cpu = median_time(strip, 5)
    check = cascading_randomization(model.built, image)
    print(f"Sanity strip, shipped {shipped.name} at 64 px ({len(check.steps)} steps x 3 methods, head to stem):")
    print(f"  cascading randomisation              {check_wall:7.2f} / {check_cpu:6.2f}")
    print(f"  ... and the strip picture            {strip_wall:7.2f} / {strip_cpu:6.2f}   (goal: under 2 s)")


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
