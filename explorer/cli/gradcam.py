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

``--method`` picks another of captum's methods (:mod:`explorer.analysis.attribution`); for the pixel
methods ``--out`` holds the raw attribution ``(C, H, W)`` of the input tensor exactly as captum returns
it. ``--sanity --json`` adds ``"sanity"``: the cascading randomisation (head first, down to the stem),
``{"randomized": module names, "stage": ..., "spearman": r}`` per step (``null``: a flat map).
``--deletion --json`` adds ``"deletion"`` and ``"insertion"``: the curves (Petsiuk et al.) of the
method's map with their areas, and a random map's areas. ``saliency`` is the same command.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from explorer.analysis.methods import METHODS, Method, MethodOptions
from explorer.cli.base import UsageError, print_json, read_file, require_suffix
from explorer.config import parse_query

if TYPE_CHECKING:
    import torch

    from explorer.analysis.faithfulness import Curve


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
        "--method",
        default="gradcam",
        choices=[m.value for m in Method],
        help="the saliency method (captum's); pixel methods write the raw (C, H, W) attribution to --out",
    )
    parser.add_argument("--steps", type=int, default=50, help="Integrated Gradients: steps on the path (50)")
    parser.add_argument("--window", type=int, help="Occlusion: window side in pixels (default: an eighth of the side)")
    parser.add_argument("--stride", type=int, help="Occlusion: stride in pixels (default: half the window)")
    parser.add_argument(
        "--sanity", action="store_true", help="with --json: the cascading randomisation, head to stem (Spearman)"
    )
    parser.add_argument(
        "--deletion", action="store_true", help="with --json: deletion and insertion curves and their areas"
    )
    parser.add_argument(
        "--bf16", action="store_true", help="train under bfloat16 autocast (faster on recent GPUs; default: float32)"
    )


def run(args: argparse.Namespace, device: torch.device) -> int:
    # torch, captum and the models here, not at the top: a typo in QUERY answers first (explorer.cli)
    from explorer.analysis.attribution import attribute, model_input, predictions
    from explorer.analysis.faithfulness import curves
    from explorer.analysis.saliency import explain_image
    from explorer.analysis.sanity import cascading_randomization
    from explorer.analysis.training import TrainSpec, shapes_settings, shapes_source, train_on_shapes
    from explorer.data.images import decode_image
    from explorer.runtime.packaged import offline_imagenet
    from explorer.runtime.shipped import load_shipped, shipped_for
    from explorer.runtime.weights import pretrained_info, with_checkpoint, with_imagenet_weights

    config = parse_query(args.query)
    require_suffix(args.out, ".npy")
    if (args.sanity or args.deletion) and not args.json:
        raise UsageError("--sanity and --deletion report as JSON: add --json")
    if args.steps < 1:
        raise UsageError(f"--steps must be at least 1 (got {args.steps})")
    for name in ("window", "stride"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise UsageError(f"--{name} must be at least 1 pixel (got {value})")
    image = decode_image(read_file(args.image, "image"))
    info, shipped = pretrained_info(config), shipped_for(config)
    if args.checkpoint:
        model = with_checkpoint(config, read_file(args.checkpoint, "checkpoint"), Path(args.checkpoint).name, device)
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
    method = Method(args.method)
    options = MethodOptions(
        layer=args.layer, relu=not args.no_relu, ig_steps=args.steps, window=args.window, stride=args.stride
    )
    tensor = model_input(model, image)
    layer: str | None
    if method is Method.GRADCAM:  # today's contract, unchanged
        result = explain_image(model, image, layer=args.layer, target=args.target, relu=not args.no_relu)
        np.save(args.out, result.cam.heatmap.astype(np.float32))
        heatmap, raw_shape, layer = result.cam.heatmap, result.cam.heatmap.shape, result.cam.layer
        target, top, peak = result.cam.target, result.cam.top, list(result.cam.peak())
    else:
        top = predictions(model.built, tensor)
        attribution = attribute(model.built, tensor, method, args.target, options)
        np.save(args.out, attribution.raw.astype(np.float32))
        heatmap, raw_shape, layer = attribution.heatmap, attribution.raw.shape, attribution.layer
        target = attribution.target
        row, column = np.unravel_index(int(np.argmax(heatmap)), heatmap.shape)
        peak = [int(row), int(column)]
    if args.json:
        report = {
            "query": config.query,
            "model_query": model.config.query,
            "weights": model.weights,
            "method": method.value,
            "method_name": METHODS[method].label,
            "layer": layer,
            "target": target,
            "target_name": model.class_name(target),
            "top": [{"index": i, "name": model.class_name(i), "probability": p} for i, p in top],
            "heatmap_shape": list(raw_shape),
            "peak": peak,
            "accuracy": model.accuracy,
            "out": args.out,
        }
        if args.sanity:
            check = cascading_randomization(model.built, tensor, [method], target, options)
            report["sanity"] = [
                {"randomized": step.randomized, "stage": step.stage, "spearman": _number(step.spearman[method])}
                for step in check.steps
            ]
        if args.deletion:
            pair, random = curves(model.built, tensor, {METHODS[method].label: heatmap}, target)
            report["deletion"] = _curve(pair.deletion, random.deletion)
            report["insertion"] = _curve(pair.insertion, random.insertion)
        print_json(report)
    return 0


def _number(value: float) -> float | None:
    """JSON has no NaN: a flat map's correlation is null."""
    return None if math.isnan(value) else value


def _curve(curve: Curve, random: Curve) -> dict[str, object]:
    return {
        "fractions": list(curve.fractions),
        "probabilities": list(curve.probabilities),
        "auc": curve.auc,
        "random_auc": random.auc,
    }
