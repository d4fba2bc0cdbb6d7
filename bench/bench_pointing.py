"""Why a shipped model's Grad-CAM does or does not point at the shape: per class, how far, and where
its map's cells draw their input from.

    .venv/bin/python bench/bench_pointing.py [NAME ...] [--n 400] [--seed 424242]

For each shipped model (assets/models; all of them by default), on ``--n`` held-out shapes:
- accuracy and the pointing game (the card's rule, ``explorer.analysis.saliency.pointing_hits``), per
  class, and how far a missed peak lies outside the shape's box (median, px);
- the map's cells (the default target layer's side) and their registration: the centroid of the
  input gradient of each cell (its effective receptive field, over 8 noise images) against the
  point where the upsampled map draws that cell. "centroid span" is how far apart the first and last
  row of cells draw their input from; "drawn span" how far apart they are drawn. A map whose cells all
  read the middle of the picture cannot put its peak on a shape near an edge, whatever it learned.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from captum.attr import LayerAttribution, LayerGradCam

from explorer.analysis.saliency import default_layer, peak_pixels
from explorer.data.shapes import CLASSES, ShapesDataset, standardise
from explorer.measure.hooks import hooked
from explorer.runtime.shipped import load_shipped, shipped_models


def cell_centroids(module: torch.nn.Module, layer: torch.nn.Module, side: int, channels: int) -> torch.Tensor:
    """``(h, w, 2)``: per cell of ``layer``'s output, the (row, column) centroid in input pixels of
    |d cell / d input| summed over channels and 8 noise images (the effective receptive field's centre)."""
    x = torch.randn(8, channels, side, side, generator=torch.Generator().manual_seed(0), requires_grad=True)
    kept: dict[str, torch.Tensor] = {}
    handle = layer.register_forward_hook(lambda _m, _i, out: kept.__setitem__("out", out))
    try:
        with hooked(module, training=False):
            module(x)
    finally:
        handle.remove()
    out = kept["out"]
    h, w = out.shape[-2:]
    axis = torch.arange(side, dtype=torch.float64)
    centroids = torch.zeros(h, w, 2, dtype=torch.float64)
    for i in range(h):
        for j in range(w):
            (grad,) = torch.autograd.grad(out[:, :, i, j].abs().sum(), x, retain_graph=True)
            weight = grad.abs().sum((0, 1)).double()
            centroids[i, j, 0] = (weight.sum(1) * axis).sum() / weight.sum()
            centroids[i, j, 1] = (weight.sum(0) * axis).sum() / weight.sum()
    return centroids


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="shipped model names (default: all)")
    parser.add_argument("--n", type=int, default=400)
    parser.add_argument("--seed", type=int, default=424_242)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"{platform.processor() or platform.machine()}, torch {torch.__version__}, load {os.getloadavg()[0]:.2f}")
    for shipped in shipped_models():
        if args.names and shipped.name not in args.names:
            continue
        model = load_shipped(shipped)
        built, module = model.built, model.built.module
        side, channels = built.config.input_resolution, built.config.in_channels
        name = default_layer(built)
        layer = dict(module.named_modules())[name]
        batch = ShapesDataset(resolution=side, in_channels=channels, seed=args.seed).batch(range(args.n))
        x = standardise(batch.images)
        with hooked(module, training=False):
            with torch.no_grad():
                correct = (module(x).argmax(1) == batch.labels).float()
            cam = LayerGradCam(module, layer)
            maps = torch.cat(
                [
                    cam.attribute(x[s : s + 100], target=batch.labels[s : s + 100], relu_attributions=True).detach()
                    for s in range(0, args.n, 100)
                ]
            )
        cells = tuple(maps.shape[-2:])
        up = LayerAttribution.interpolate(maps, (side, side), interpolate_mode="bilinear")[:, 0]
        rows, cols = peak_pixels(up, cells)
        box = batch.boxes
        hit = (cols >= box[:, 0]) & (cols < box[:, 2]) & (rows >= box[:, 1]) & (rows < box[:, 3])
        dx = (box[:, 0] - cols).clamp(min=0) + (cols - (box[:, 2] - 1)).clamp(min=0)
        dy = (box[:, 1] - rows).clamp(min=0) + (rows - (box[:, 3] - 1)).clamp(min=0)
        outside = (dx.float() ** 2 + dy.float() ** 2).sqrt()[~hit]
        print(
            f"\n{shipped.name} ({built.config.query}), layer {name}, map {cells[0]}x{cells[1]} at {side} px: "
            f"accuracy {correct.mean():.1%}, pointing {hit.float().mean():.1%} on {args.n} images (seed {args.seed}); "
            f"a miss lies a median {outside.median() if outside.numel() else 0:.1f} px outside the box"
        )
        print(
            "  per class: "
            + ", ".join(f"{c} {hit[batch.labels == k].float().mean():.0%}" for k, c in enumerate(CLASSES))
        )
        centroids = cell_centroids(module, layer, side, channels)
        drawn = (torch.arange(cells[0], dtype=torch.float64) + 0.5) * side / cells[0] - 0.5
        row_centroids = centroids[:, :, 0].mean(1)
        print(
            "  cell rows draw their input from rows "
            + ", ".join(f"{v:.1f}" for v in row_centroids.tolist())
            + " px; they are drawn at "
            + ", ".join(f"{v:.1f}" for v in drawn.tolist())
            + f" (centroid span {row_centroids[-1] - row_centroids[0]:.1f} px,"
            + f" drawn span {drawn[-1] - drawn[0]:.1f} px)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
