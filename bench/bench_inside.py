"""What a layer sees (issue 36): the Inside page's costs against bare passes, and its two findings.

1. The maps of ResNet-50 layers at 224 px (``feature_maps``, a forward cut short after the layer)
   against one full forward pass, and the drawing (the channel grid tiled with numpy, one channel
   over the image) on top.
2. The effective receptive field of ResNet-50's last stage from 8 noise inputs (``effective_field``:
   one forward of the batch and one gradient with respect to the input) against 8 forward +
   backward passes (one batch of 8, ``loss.backward()`` into the weights, as training does).
   And the field along the depth (the end of every stage), as the page draws it.
3. Luo et al.'s law on uniform stacks of 3x3 convs with ReLU (32 channels, PyTorch's default
   initialisation, 8 standard-normal inputs at 129 px): the RMS radius after 4, 8, 16, 32 layers,
   and 8 layers with two stride-2 convs.
4. The deformable claim: the shipped ResNet-8s (plain and deformable, trained on shapes), the field
   of the last stage's centre unit for each of 48 generated shapes alone: its RMS radius, and its
   correlation with the shape's size.

Times are medians of 5 after one warm-up, in one run (the ratios are what to compare across
machines). Fresh weights for ResNet-50: the cost does not depend on them.

    python bench/bench_inside.py
"""

from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from timing import median_time, paired

from explorer.analysis.erf import (
    effective_field,
    effective_fields,
    field_by_depth,
    image_inputs,
    noise_inputs,
    per_input_fields,
)
from explorer.analysis.features import FeatureMaps, depth_layers, feature_maps, fresh_model
from explorer.config import parse_query
from explorer.data.samples import shape_box, shape_image
from explorer.runtime.shipped import load_shipped
from explorer.runtime.threads import apply_thread_policy
from explorer.views.inside import channel_grid, channel_over_image

LAYERS = ["layer1", "layer3", "layer4"]
SHAPES = 48


def maps_and_field() -> None:
    model = fresh_model(parse_query("preset=resnet50"))
    built, module = model.built, model.built.module.eval()
    image = torch.randn(1, 3, 224, 224)

    def forward() -> None:
        with torch.no_grad():
            module(image)

    print(f"ResNet-50, 224 px, {torch.get_num_threads()} thread(s), fresh weights; each pair timed in turn:")
    picture = np.zeros((224, 224, 3), np.uint8)
    for layer in LAYERS:
        maps = feature_maps(built, image, layer)
        shown = maps.top(64)

        def cut(layer: str = layer) -> FeatureMaps:
            return feature_maps(built, image, layer)

        def draw(m: FeatureMaps = maps, s: list[int] = shown) -> None:
            channel_grid(m.maps, s)
            channel_over_image(picture, m.maps[s[0]])

        def tile_all(m: FeatureMaps = maps) -> None:
            channel_grid(m.maps, list(m.order))

        bare, seconds, ratio = paired(forward, cut)
        drawing, everything = median_time(draw), median_time(tile_all)
        c, h, w = maps.shape
        print(
            f"  maps of {layer:<7} ({c:>4} x {h:>2} x {w:>2}): {seconds * 1000:5.0f} ms against a forward "
            f"{bare * 1000:4.0f} ms: {ratio:4.2f}x; drawing 64 channels + one over the image {drawing * 1000:4.0f} ms; "
            f"all {c} channels tiled {everything * 1000:4.0f} ms"
        )
    inputs = torch.randn(8, 3, 224, 224)

    def forward_backward() -> None:
        module.zero_grad(set_to_none=True)
        module(inputs).sum().backward()

    passes, field_s, field_ratio = paired(forward_backward, lambda: effective_field(built, inputs, "layer4"))
    field = effective_field(built, inputs, "layer4")
    start = time.perf_counter()
    ends = field_by_depth(built, inputs, every_block=False)
    curve = time.perf_counter() - start
    print(
        f"  the field at every stage's end ({len(ends)} places, 8 noise inputs): {curve:.1f} s = "
        f"{curve / passes:.1f}x the 8 forward+backward passes; RMS radii "
        + ", ".join(f"{f.layer} {f.rms_radius:.1f}" for f in ends)
    )
    print(
        f"ERF of layer4 from 8 noise inputs: {field_s * 1000:.0f} ms against 8 forward+backward passes "
        f"(one batch of 8) {passes * 1000:.0f} ms: {field_ratio:.2f}x "
        f"(RMS radius {field.rms_radius:.1f} px, 95 % within {field.side95} px, "
        f"theoretical {field.theoretical.side} px)"
    )
    module.zero_grad(set_to_none=True)


def stack(layers: int, strided: tuple[int, ...] = ()) -> str:
    blocks = [f"conv32.nobn{'.s2' if i in strided else ''}" for i in range(1, layers + 1)]
    return f"family=blocks&stem={blocks[0]}&blocks={','.join(blocks[1:])}&resolution=129&classes=8"


def square_root_law() -> None:
    config = parse_query(stack(32))
    built = fresh_model(config).built
    names = [layer.name for layer in depth_layers(built)]  # the stem is layer 1
    start = time.perf_counter()
    fields = effective_fields(built, noise_inputs(config, 8), [names[n - 1] for n in (4, 8, 16, 32)])
    seconds = time.perf_counter() - start
    radius = {n: f.rms_radius for n, f in zip((4, 8, 16, 32), fields, strict=True)}
    print(
        "Uniform 3x3 stack, 32 channels, 8 noise inputs at 129 px: RMS radius "
        + ", ".join(
            f"{n} layers {f.rms_radius:.2f} px (theoretical {f.theoretical.side})"
            for n, f in zip(radius, fields, strict=True)
        )
        + f"; r(32)/r(8) = {radius[32] / radius[8]:.2f} (sqrt(4) = 2); one forward, 4 gradients: {seconds:.1f} s"
    )
    strided = parse_query(stack(8, strided=(3, 6)))
    field = effective_field(fresh_model(strided).built, noise_inputs(strided, 8), "stage7")
    print(
        f"  8 layers with stride 2 at layers 3 and 6: {field.rms_radius:.2f} px (theoretical {field.theoretical.side})"
    )


def deformable_claim() -> None:
    for name in ("resnet8-cifar", "resnet8-deform", "resnet8-deform-modulated"):
        model = load_shipped(name)
        side = model.config.input_resolution
        pictures = [shape_image(seed, side) for seed in range(SHAPES)]
        sizes = [((b[2] - b[0]) * (b[3] - b[1])) ** 0.5 for b in (shape_box(seed, side) for seed in range(SHAPES))]
        last = depth_layers(model.built)[-1].name
        for label, weights in (("trained", model), ("fresh", fresh_model(model.config))):
            radii = [f.rms_radius for f in per_input_fields(weights.built, image_inputs(model, pictures), last)]
            print(
                f"{name:<25} {label:<7} {last}: RMS radius over {SHAPES} shapes {statistics.fmean(radii):5.2f} "
                f"± {statistics.stdev(radii):4.2f} px, correlation with the shape's size "
                f"{np.corrcoef(radii, sizes)[0, 1]:+.2f}"
            )


def main() -> None:
    apply_thread_policy()
    print(
        f"{platform.machine()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; "
        f"Python {platform.python_version()}, torch {torch.__version__}"
    )
    maps_and_field()
    square_root_law()
    deformable_claim()


if __name__ == "__main__":
    main()
