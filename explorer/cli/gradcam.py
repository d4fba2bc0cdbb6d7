"""``python -m explorer gradcam QUERY --image PATH --out FILE.npy``: Grad-CAM from the command line.

Weights, in order: ``--checkpoint``; for a photo (the default) a real ImageNet classifier on this
machine: torchvision's ImageNet weights when QUERY is one of its models and they are in the torch
cache, else EfficientNet-Lite0 from its package (``assets/models/imagenet``); the shipped model of
QUERY's family (``assets/models``, see ``python -m explorer models``: trained on shapes, so the map
is of that model's architecture); ImageNet weights downloaded (unless ``--no-download``); otherwise
a short training run on the shapes data set (``--train-seconds``). ``--shapes`` (the image is a
generated shape) puts the shipped shapes model first. The JSON ``weights`` and ``model_query`` name
the model that made the map.
The heatmap (2-D float32 at the model's input resolution) goes to ``--out``; ``--json`` prints the
predictions, the layer and the weights used.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from explorer.analysis.saliency import explain_image
from explorer.analysis.training import TrainSpec, shapes_settings, shapes_source, train_on_shapes
from explorer.cli.base import UsageError, print_json
from explorer.config import parse_query
from explorer.data.images import decode_image
from explorer.runtime.packaged import offline_imagenet
from explorer.runtime.shipped import load_shipped, shipped_for
from explorer.runtime.weights import pretrained_info, with_checkpoint, with_imagenet_weights


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("query", metavar="QUERY", help="e.g. preset=resnet50")
    parser.add_argument("--image", required=True, help="PNG, JPEG, WebP, GIF, ...")
    parser.add_argument("--out", required=True, help="where to write the heatmap (.npy)")
    parser.add_argument("--checkpoint", help="a .pt/.pth state dict to load (weights_only)")
    parser.add_argument("--layer", help="module name as in named_modules(), e.g. layer4 (default: last conv stage)")
    parser.add_argument("--target", type=int, help="class index to explain (default: the top prediction)")
    parser.add_argument("--no-relu", action="store_true", help="keep negative evidence (no ReLU on the map)")
    parser.add_argument("--no-download", action="store_true", help="never download ImageNet weights")
    parser.add_argument(
        "--shapes", action="store_true", help="the image is a generated shape: the shipped shapes model first"
    )
    parser.add_argument("--train-seconds", type=float, default=30.0, help="shapes training budget without weights")
    parser.add_argument("--json", action="store_true", help="print predictions and the layer used as JSON")
    parser.add_argument(
        "--bf16", action="store_true", help="train under bfloat16 autocast (faster on recent GPUs; default: float32)"
    )


def _read(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise UsageError(f"cannot read {what} '{path}': {error.strerror or error}") from None


def run(args: argparse.Namespace, device: torch.device) -> int:
    config = parse_query(args.query)
    if not args.out.endswith(".npy"):
        raise UsageError("--out must name a .npy file")
    image = decode_image(_read(args.image, "image"))
    info, shipped = pretrained_info(config), shipped_for(config)
    if args.checkpoint:
        model = with_checkpoint(config, _read(args.checkpoint, "checkpoint"), Path(args.checkpoint).name, device)
    elif not args.shapes and (imagenet := offline_imagenet(config, device)) is not None:
        model = imagenet
    elif shipped is not None:
        model = load_shipped(shipped, device)
    elif info is not None and info.cached:
        model = with_imagenet_weights(config, device, download=False)
    elif info is not None:
        model = with_imagenet_weights(config, device, download=not args.no_download)
    else:
        spec = TrainSpec(
            model=shapes_source(config),
            settings=shapes_settings(autocast=args.bf16),
            seconds=args.train_seconds,
            device=device,
        )
        model = train_on_shapes(spec).model
    result = explain_image(model, image, layer=args.layer, target=args.target, relu=not args.no_relu)
    np.save(args.out, result.cam.heatmap.astype(np.float32))
    if args.json:
        print_json(
            {
                "query": config.query,
                "model_query": model.config.query,
                "weights": model.weights,
                "layer": result.cam.layer,
                "target": result.cam.target,
                "target_name": model.class_name(result.cam.target),
                "top": [{"index": i, "name": model.class_name(i), "probability": p} for i, p in result.cam.top],
                "heatmap_shape": list(result.cam.heatmap.shape),
                "peak": list(result.cam.peak()),
                "accuracy": model.accuracy,
                "out": args.out,
            }
        )
    return 0
