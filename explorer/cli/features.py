"""``python -m explorer features QUERY --image P [--layer NAME] --out maps.npy [--json]``: one layer's
feature maps.

The module's output ``(C, h, w)`` float32 for the preprocessed image (resized and centre-cropped to
the model's side: a square image of exactly that side enters unchanged apart from normalisation, as
for ``gradcam``), in eval mode. ``--layer`` is a module path as in ``named_modules()`` (default: the
last stage with spatial output, as for Grad-CAM). Weights: see :mod:`explorer.cli.layer_model`.
``--json`` prints the layer, the shape ``[C, h, w]``, the most active channels (largest mean
activation) and whose weights they are.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

import numpy as np

from explorer.cli.base import print_json, read_file, require_suffix
from explorer.cli.layer_model import add_weights_arguments, layer_model
from explorer.config import parse_query

if TYPE_CHECKING:
    import torch

#: Channels the JSON lists, most active first.
TOP = 8


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("query", metavar="QUERY", help="e.g. preset=resnet50")
    parser.add_argument("--image", required=True, help="PNG, JPEG, WebP, GIF, ...")
    parser.add_argument("--out", required=True, help="where to write the maps, (C, h, w) float32 (.npy)")
    parser.add_argument("--layer", help="module name as in named_modules(), e.g. layer3.1 (default: last conv stage)")
    add_weights_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print the layer, its shape and the most active channels")


def run(args: argparse.Namespace, device: torch.device) -> int:
    from explorer.analysis.features import image_features  # torch: after QUERY is read (explorer.cli)
    from explorer.data.images import decode_image

    config = parse_query(args.query)
    require_suffix(args.out, ".npy")
    image = decode_image(read_file(args.image, "image"))
    model = layer_model(config, args, device)
    result = image_features(model, image, args.layer).features
    np.save(args.out, result.maps.astype(np.float32))
    if args.json:
        print_json(
            {
                "query": config.query,
                "model_query": model.config.query,
                "weights": model.weights,
                "layer": result.layer,
                "shape": list(result.shape),
                "top": [
                    {"channel": c, "mean": float(result.means[c]), "max": float(result.maxima[c])}
                    for c in result.top(TOP)
                ],
                "out": args.out,
            }
        )
    return 0
