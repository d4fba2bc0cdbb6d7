"""``python -m explorer erf QUERY [--layer NAME] [--image P ...] [--samples N] [--seed S] --out erf.npy
[--json]``: the effective receptive field of the unit at the centre of a layer's map.

The map is the mean over inputs of ``|d(sum over channels of y[c, h//2, w//2]) / dx|`` summed over
the input channels, ``x`` the model's input after preprocessing, normalised to sum 1: ``(H, W)``
float32 at the model's input side. Inputs: the ``--image`` files (each preprocessed as for
``features``), else ``--samples`` standard-normal inputs drawn from ``--seed``. Eval mode. Weights:
see :mod:`explorer.cli.layer_model`. ``--json``: the layer, the unit, the theoretical side (input
pixels, the Graph page's number; the input's side, with ``theoretical_whole``, where a global pooling
such as squeeze-excitation feeds the layer), the RMS radius (px), ``side95`` (the smallest centred square
holding 95 % of the map) and ``ratio`` = side95 / theoretical (see :mod:`explorer.analysis.erf`).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

import numpy as np

from explorer.cli.base import UsageError, print_json, read_file, require_suffix
from explorer.cli.layer_model import add_weights_arguments, layer_model
from explorer.config import parse_query

if TYPE_CHECKING:
    import torch

#: ``--samples``'s default as its help says it: the library's (explorer.analysis.erf.SAMPLES, which
#: imports torch: not read before QUERY is; tests/test_cli_errors.py holds the two equal).
SAMPLES_SAID = 8


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("query", metavar="QUERY", help="e.g. 'family=plain&depth=16'")
    parser.add_argument("--out", required=True, help="where to write the field, (H, W) float32 summing to 1 (.npy)")
    parser.add_argument("--layer", help="module name as in named_modules() (default: last conv stage)")
    parser.add_argument(
        "--image", action="extend", nargs="+", help="input images (--image a.png b.png, or repeated; default: noise)"
    )
    parser.add_argument("--samples", type=int, help=f"noise inputs without --image (default {SAMPLES_SAID})")
    parser.add_argument("--seed", type=int, default=0, help="seed of the noise inputs (default 0)")
    add_weights_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print the unit, the radii and the theoretical side")


def run(args: argparse.Namespace, device: torch.device) -> int:
    from explorer.analysis.erf import SAMPLES, effective_field, image_inputs, noise_inputs  # torch, after QUERY
    from explorer.data.images import decode_image

    config = parse_query(args.query)
    require_suffix(args.out, ".npy")
    samples = SAMPLES if args.samples is None else args.samples
    if not 1 <= samples <= 256:
        raise UsageError(f"--samples {samples}; allowed: 1 to 256")
    images = [decode_image(read_file(path, "image")) for path in args.image or []]
    model = layer_model(config, args, device)
    inputs = image_inputs(model, images) if images else noise_inputs(model.config, samples, args.seed)
    result = effective_field(model.built, inputs, args.layer)
    np.save(args.out, result.field.astype(np.float32))
    if args.json:
        print_json(
            {
                "query": config.query,
                "model_query": model.config.query,
                "weights": model.weights,
                "layer": result.layer,
                "unit": list(result.unit),
                "cells": list(result.cells),
                "inputs": "images" if images else "noise",
                "samples": result.samples,
                "theoretical": result.theoretical.side,
                "jump": result.theoretical.jump,
                "theoretical_whole": result.theoretical.whole,
                "rms_radius": result.rms_radius,
                "side95": result.side95,
                "ratio": result.ratio,
                "centroid": list(result.centroid),
                "field_shape": list(result.field.shape),
                "out": args.out,
            }
        )
    return 0
