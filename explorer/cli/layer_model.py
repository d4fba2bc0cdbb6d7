"""The weights ``features`` and ``erf`` read a layer of (a helper of both commands, not a command).

In order: ``--checkpoint``; ``--fresh`` (untrained weights drawn from ``--weights-seed``); weights of
exactly QUERY's architecture already on this machine: torchvision's ImageNet weights in the torch
cache, the EfficientNet-Lite0 package (for ``preset=efficientnet_lite0``), a shipped model of the same
architecture (``assets/models``); otherwise fresh weights from ``--weights-seed``. Never a download,
never a training run: the maps are always of QUERY's own architecture, and the JSON ``weights`` says
whose weights they are.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from explorer.cli.base import UsageError, read_file

if TYPE_CHECKING:
    import torch

    from explorer.knobs import ModelConfig
    from explorer.runtime.weights import ExplainableModel


def add_weights_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", help="a .pt/.pth state dict to load (weights_only)")
    parser.add_argument("--fresh", action="store_true", help="untrained weights, even where trained ones are here")
    parser.add_argument("--weights-seed", type=int, default=0, help="seed of fresh weights (default 0)")


def layer_model(config: ModelConfig, args: argparse.Namespace, device: torch.device) -> ExplainableModel:
    """The model whose layers the command reads (see the module docstring)."""
    # torch and the models here, not at the top: a typo in QUERY answers first (explorer.cli)
    from explorer.analysis.features import fresh_model
    from explorer.runtime.packaged import offline_imagenet
    from explorer.runtime.shipped import load_shipped, same_architecture, shipped_for
    from explorer.runtime.weights import pretrained_info, with_checkpoint, with_imagenet_weights

    if args.checkpoint:
        if args.fresh:
            raise UsageError("--checkpoint and --fresh exclude each other")
        return with_checkpoint(config, read_file(args.checkpoint, "checkpoint"), Path(args.checkpoint).name, device)
    if not args.fresh:
        info = pretrained_info(config)
        if info is not None and info.cached:
            return with_imagenet_weights(config, device, download=False)
        imagenet = offline_imagenet(config, device) if config.family == "efficientnet" else None
        if imagenet is not None and imagenet.config.query == config.query:
            return imagenet
        shipped = shipped_for(config)
        if shipped is not None and same_architecture(shipped.config, config):
            return load_shipped(shipped, device)
    return fresh_model(config, device, args.weights_seed)
