"""torchinfo's layer summary of a config, computed on the meta device (no weights allocated)."""

from __future__ import annotations

import torchinfo

from explorer.families import build
from explorer.knobs import ModelConfig


def summary_text(config: ModelConfig, depth: int = 3) -> str:
    built = build(config, device="meta")
    resolution = config.input_resolution
    stats = torchinfo.summary(
        built.module,
        input_size=(1, config.in_channels, resolution, resolution),
        device="meta",
        depth=depth,
        verbose=0,
        col_names=("output_size", "num_params", "mult_adds"),
        row_settings=("var_names",),
    )
    return str(stats)
