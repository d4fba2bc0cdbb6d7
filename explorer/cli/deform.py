"""``python -m explorer deform QUERY --image PATH --out FILE.npz``: a deformable layer's offsets.

The model of QUERY is trained on the shapes data set for ``--train-steps`` steps (Adam, from
``--seed``; 0 steps: untrained, so every offset is zero and the points are the regular grid), then
``--image`` goes through it. The ``.npz`` holds, for layer ``--layer`` (default: the last deformable
layer):

    offsets          (2*k*k, H_out, W_out) float32, torchvision's layout: (dy, dx) of tap t at
                     channels (2t, 2t+1), taps row-major, in input-feature-map pixels
    sampling_points  (H_out, W_out, k*k, 2) float32: absolute (y, x) of every sample in the layer's
                     input feature map (p0 + pn + offset)
    image_points     the same points in image pixels of the model's input (x input_stride)
    mask             (k*k, H_out, W_out) float32, only for DCNv2 (modulated) layers
    input_stride, output_stride   image pixels per input / output feature-map pixel

``--json`` prints the layer, its shapes and offset statistics.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

import numpy as np

from explorer.cli.base import UsageError, print_json, read_file, require_suffix
from explorer.config import parse_query

if TYPE_CHECKING:
    import torch


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "query", metavar="QUERY", help="e.g. 'family=plain&deform=on&depth=8' or preset=resnet50&deform=4"
    )
    parser.add_argument("--image", required=True, help="PNG, JPEG, WebP, GIF, ...")
    parser.add_argument("--out", required=True, help="where to write the offsets (.npz)")
    parser.add_argument("--train-steps", type=int, default=50, help="shapes training steps first (0: untrained)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the weights and of the training data")
    parser.add_argument("--layer", help="deformable layer as in named_modules() (default: the last one)")
    parser.add_argument("--json", action="store_true", help="print the layer, shapes and offset statistics")
    parser.add_argument(
        "--bf16", action="store_true", help="train under bfloat16 autocast (faster on recent GPUs; default: float32)"
    )


def run(args: argparse.Namespace, device: torch.device) -> int:
    # torch and the models here, not at the top: a typo in QUERY answers first (explorer.cli)
    from explorer.analysis.deform import offset_fields, offsets_settings, offsets_source, train_offsets, untrained
    from explorer.analysis.training import TrainSpec
    from explorer.data.images import decode_image

    config = parse_query(args.query)
    require_suffix(args.out, ".npz")
    if args.train_steps < 0:
        raise UsageError(f"--train-steps {args.train_steps}; allowed: 0 or more")
    image = decode_image(read_file(args.image, "image"))
    settings = offsets_settings(steps=max(1, args.train_steps), seed=args.seed, autocast=args.bf16, held_out=0)
    spec = TrainSpec(model=offsets_source(config), settings=settings, device=device)
    if args.train_steps:
        pair = train_offsets(spec)
        steps, model = pair.steps, pair.after
    else:
        steps, model = 0, untrained(spec)
    view = offset_fields(model.built, image, model.mean, model.std)
    name = args.layer or view.names[-1]
    if name not in view.fields:
        raise UsageError(
            f"--layer '{name}' is not a deformable layer of {config.query}; allowed: {', '.join(view.names)}"
        )
    field = view.fields[name]
    arrays: dict[str, Any] = {
        "offsets": field.offsets.astype(np.float32),
        "sampling_points": field.points().astype(np.float32),
        "image_points": (field.points() * field.input_stride).astype(np.float32),
        "input_stride": np.float32(field.input_stride),
        "output_stride": np.float32(field.output_stride),
    }
    if field.mask is not None:
        arrays["mask"] = field.mask.astype(np.float32)
    np.savez(args.out, **arrays)
    if args.json:
        magnitude = field.magnitude()
        print_json(
            {
                "query": config.query,
                "trained_query": model.config.query,
                "weights": model.weights,
                "train_steps": steps,
                "layer": name,
                "layers": view.names,
                "kernel": list(field.layer.kernel),
                "modulated": field.layer.modulated,
                "offsets_shape": list(field.offsets.shape),
                "input_size": list(field.input_size),
                "input_stride": field.input_stride,
                "output_stride": field.output_stride,
                "mean_offset_px": float(magnitude.mean()),
                "max_offset_px": float(magnitude.max()),
                "out": args.out,
            }
        )
    return 0
