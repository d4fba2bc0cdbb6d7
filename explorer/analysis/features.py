"""What a layer computes on one image: its output, channel by channel (CNN Explainer's central view,
Wang et al., IEEE VIS 2020, for any design here).

One forward hook, through :func:`explorer.measure.hooks.hooked` (the model's lock, eval mode, hooks
removed and the mode restored even on error), copies the chosen module's output; the forward stops
there (:func:`run_to`), so the maps of an early layer cost only the layers before it. The maps leave
the device once, as one ``(C, h, w)`` float32 array; tiling them into a picture is the views' work.

The layers offered along the depth (:func:`depth_layers`) are read from the builder's structure:
the stem, then every block of every stage (a stage without blocks: its last working module), never
the head. Names are ``named_modules()`` paths.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import torch
from PIL import Image
from torch import nn

from explorer.data.images import display_image, preprocess
from explorer.errors import InputError
from explorer.families import BuiltModel
from explorer.knobs import ModelConfig
from explorer.measure.hooks import hooked
from explorer.runtime.device import full_float32
from explorer.runtime.models import instantiate
from explorer.runtime.weights import ExplainableModel

T = TypeVar("T")


@dataclass(frozen=True)
class DepthLayer:
    """One place along the network's depth: a module path, its stage, and whether it is a block."""

    name: str
    stage: str
    block: bool

    @property
    def label(self) -> str:
        return f"{self.name} ({self.stage})"


def _does_work(module: nn.Module | None) -> bool:
    return (
        module is not None
        and not isinstance(module, nn.Identity)
        and not (isinstance(module, nn.Sequential) and len(module) == 0)
    )


def depth_layers(built: BuiltModel) -> list[DepthLayer]:
    """The layers along the depth, in execution order: each non-head stage's blocks, or, for a stage
    without blocks (a stem, VGG's stages), its last working module (what the whole stage computed)."""
    modules = dict(built.module.named_modules())
    layers: list[DepthLayer] = []
    for stage in built.stages:
        if stage.name == "head":
            continue
        blocks = [name for name in stage.blocks if _does_work(modules.get(name))]
        if blocks:
            layers.extend(DepthLayer(name, stage.name, True) for name in blocks)
            continue
        working = [name for name in stage.modules if _does_work(modules.get(name))]
        if working:
            layers.append(DepthLayer(working[-1], stage.name, False))
    return layers


def stage_ends(built: BuiltModel) -> list[DepthLayer]:
    """The last place of every stage along the depth (the stem, then each stage's last block)."""
    ends: dict[str, DepthLayer] = {}
    for layer in depth_layers(built):
        ends[layer.stage] = layer
    return list(ends.values())


def default_layer(built: BuiltModel) -> str:
    """The last stage with spatial output, as for Grad-CAM: that stage's last working module."""
    modules = dict(built.module.named_modules())
    stages = [s for s in built.stages if s.name != "head"]
    for stage in reversed(stages):
        working = [name for name in stage.modules if _does_work(modules.get(name))]
        if working:
            return working[-1]
    raise InputError(f"{built.config.query} has no stage before its head")


def module_named(model: nn.Module, name: str) -> nn.Module:
    """The submodule at path ``name``; a ValueError naming a few real paths when there is none."""
    modules = dict(model.named_modules())
    if not name or name not in modules:
        known = ", ".join(list(modules)[1:6])
        raise InputError(f"no layer '{name}' in this model; module names as in named_modules(), e.g. {known}")
    return modules[name]


class _Reached(Exception):
    """Raised by a capture hook once every wanted module has run: the rest of the forward is skipped."""


def run_to(
    model: nn.Module, x: torch.Tensor, names: Sequence[str], keep: Callable[[str, torch.Tensor], T]
) -> dict[str, T]:
    """Run ``model`` on ``x`` until every module in ``names`` has produced its output; ``keep(name,
    output)`` turns each output into what is returned (a copy, or a scalar still on the graph).

    Hooks go through :func:`hooked` (eval mode, the model's lock); the forward is cut short after
    the last wanted module. Each module is caught at its first call. A module that never runs, or
    whose output is not one tensor, is a ValueError naming it.
    """
    for name in names:
        module_named(model, name)
    kept: dict[str, T] = {}
    wanted = set(names)

    def hook_for(name: str) -> Callable[[nn.Module, tuple[Any, ...], Any], None]:
        def on_forward(module: nn.Module, inputs: tuple[Any, ...], output: Any) -> None:
            if name in kept:
                return
            if not isinstance(output, torch.Tensor):
                raise InputError(f"layer '{name}' returns {type(output).__name__}, not one tensor; pick another")
            kept[name] = keep(name, output)
            if wanted <= kept.keys():
                raise _Reached

        return on_forward

    hooks = {name: hook_for(name) for name in wanted}
    with hooked(model, forward=hooks, training=False), contextlib.suppress(_Reached):
        model(x)
    missing = [name for name in names if name not in kept]
    if missing:
        raise InputError(f"layer {', '.join(missing)} never ran in the forward pass")
    return kept


@dataclass(frozen=True)
class FeatureMaps:
    """One layer's output on one image, with per-channel statistics (all over the ``h x w`` map)."""

    layer: str
    #: ``(C, h, w)`` float32: the module's output, batch dimension dropped.
    maps: np.ndarray
    #: Per channel: mean, maximum, minimum, standard deviation, share of positive values.
    means: np.ndarray
    maxima: np.ndarray
    minima: np.ndarray
    stds: np.ndarray
    active: np.ndarray

    @property
    def shape(self) -> tuple[int, int, int]:
        c, h, w = self.maps.shape
        return int(c), int(h), int(w)

    @property
    def order(self) -> np.ndarray:
        """Channel indices, most active (largest mean activation) first; ties by index."""
        return np.argsort(-self.means, kind="stable")

    def top(self, k: int = 8) -> list[int]:
        return [int(c) for c in self.order[:k]]


def channel_statistics(layer: str, maps: np.ndarray) -> FeatureMaps:
    """The :class:`FeatureMaps` of a ``(C, h, w)`` array."""
    flat = maps.reshape(maps.shape[0], -1).astype(np.float64)
    return FeatureMaps(
        layer=layer,
        maps=maps.astype(np.float32, copy=False),
        means=flat.mean(1),
        maxima=flat.max(1),
        minima=flat.min(1),
        stds=flat.std(1),
        active=(flat > 0).mean(1),
    )


def feature_maps(built: BuiltModel, image: torch.Tensor, layer: str | None = None) -> FeatureMaps:
    """The output of module ``layer`` (default: :func:`default_layer`) for ``image`` ``(1, C, H, W)``,
    preprocessed, in eval mode and full float32. The output is copied in the hook, so an in-place
    activation after the module (``ReLU(inplace=True)``) cannot change it."""
    layer = layer or default_layer(built)
    model = built.module
    device = next(model.parameters()).device
    if image.dim() != 4 or image.shape[0] != 1:
        raise ValueError(f"expected one image (1, C, H, W), got {tuple(image.shape)}")
    with full_float32(), torch.no_grad():
        kept = run_to(model, image.to(device), [layer], lambda name, out: out.detach().clone())
    output: torch.Tensor = kept[layer]
    if output.dim() != 4:
        raise InputError(f"layer '{layer}' has no spatial output (shape {tuple(output.shape)}); pick a conv layer")
    return channel_statistics(layer, output[0].float().cpu().numpy())


@dataclass(frozen=True)
class ImageFeatures:
    """A layer's maps for one picture, with the square crop the model saw (``(R, R, 3)`` uint8)."""

    features: FeatureMaps
    image: np.ndarray


def image_features(model: ExplainableModel, image: Image.Image, layer: str | None = None) -> ImageFeatures:
    """:func:`feature_maps` of ``image`` (any size: resized and centre-cropped to the model's side,
    normalised with the weights' own statistics)."""
    resolution = model.config.input_resolution
    tensor = preprocess(image, resolution, model.config.in_channels, model.mean, model.std)
    return ImageFeatures(feature_maps(model.built, tensor, layer), display_image(image, resolution))


def fresh_model(config: ModelConfig, device: torch.device | str = "cpu", seed: int = 0) -> ExplainableModel:
    """``config`` with untrained weights drawn from ``seed`` (PyTorch's default initialisation), said so."""
    built = instantiate(config, device, seed=seed)
    return ExplainableModel(built, f"fresh weights drawn from seed {seed} (untrained)")
