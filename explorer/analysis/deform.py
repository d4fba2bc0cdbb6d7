"""Deformable convolution made visible: offset fields, sampling points, stacked receptive fields
(whether the sampling adapts to the object is measured in :mod:`explorer.analysis.deform_spread`).

Geometry (torchvision's convention; ``tests/test_deform.py`` checks it against
``torchvision.ops.deform_conv2d`` itself). A layer with kernel ``(kh, kw)``, stride ``s``, padding
``p`` and dilation ``d`` has offsets of shape ``(2*kh*kw, H_out, W_out)``: for kernel tap
``t = a*kw + b`` (row-major), channel ``2t`` is ``dy`` and channel ``2t + 1`` is ``dx``. Output
location ``(i, j)`` samples its input at, for each tap ``(a, b)``::

    y = i*s_h - p_h + a*d_h + dy[t, i, j]        x = j*s_w - p_w + b*d_w + dx[t, i, j]

in the layer's *input feature map*, in pixel-index coordinates (pixel ``(y, x)`` is centred on
``(y, x)``; a fractional point is read by bilinear interpolation). ``dy = dx = 0`` is the regular
grid ``p0 + pn`` of an ordinary conv.

Feature maps to image pixels: a map with cumulative stride ``S`` (image pixels per feature pixel:
1 for a map at full resolution, 2 after one stride-2 layer, ...) has its pixel ``u`` centred on image
pixel ``u*S``, because every conv and pool in these networks pads "same" (``p = (k-1)/2``). So a
sampling point ``(y, x)`` of a layer whose input has stride ``S_in`` lies at image pixel
``(y*S_in, x*S_in)``, and an offset of one feature pixel moves it ``S_in`` image pixels.

Points of points (the effective receptive field of stacked deformable layers, Fig. 5 of Dai et
al.): each sampling point of a layer is a location of the previous deformable layer's output map;
that layer's offsets there (bilinearly interpolated, as the sampling itself is) give its own
``kh*kw`` sampling points, and so on down the chain. The chain follows consecutive deformable
layers only; it stops at an ordinary spatial conv or pool (1x1 convs, norms, activations and
shortcuts move no sampling point).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn

from explorer.analysis.training import (
    Copied,
    Fresh,
    TrainSettings,
    TrainSpec,
    private_copy,
    shapes_config,
    shapes_settings,
    shapes_source,
    train_on_shapes,
)
from explorer.data.images import display_image, preprocess
from explorer.data.shapes import CLASSES, INPUT_MEAN, INPUT_STD
from explorer.errors import InputError
from explorer.families import BuiltModel, build
from explorer.families.nets.deformable import DeformableConv2d
from explorer.knobs import ModelConfig
from explorer.measure.hooks import hooked
from explorer.runtime.device import full_float32
from explorer.runtime.models import instantiate
from explorer.runtime.weights import ExplainableModel

__all__ = [
    "DEFAULT_QUERY",
    "DeformLayer",
    "DeformView",
    "LayerOffsets",
    "OffsetField",
    "TrainedPair",
    "deformable_layers",
    "generated_shape",
    "offset_fields",
    "offsets_settings",
    "offsets_source",
    "regular_grid",
    "sampling_points",
    "stacked_points",
    "train_offsets",
    "untrained",
]

#: A config with deformable layers, suggested where the current one has none.
DEFAULT_QUERY = "family=plain&deform=on&depth=8"
#: Shapes training for the offsets: largest input side, batch size, learning rate (Adam).
TRAIN_RESOLUTION = 32
TRAIN_BATCH = 16
LEARNING_RATE = 2e-3
#: Held-out images the trained offsets' network is scored on (of another seed).
HELD_OUT_IMAGES = 64


@dataclass(frozen=True)
class DeformLayer:
    """One deformable conv of a model: where it is and its geometry."""

    name: str
    in_channels: int
    out_channels: int
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    dilation: tuple[int, int]
    modulated: bool

    @property
    def taps(self) -> int:
        return self.kernel[0] * self.kernel[1]

    @classmethod
    def of(cls, name: str, module: DeformableConv2d) -> DeformLayer:
        pair = lambda v: (int(v[0]), int(v[1])) if isinstance(v, (tuple, list)) else (int(v), int(v))  # noqa: E731
        return cls(
            name,
            int(module.in_channels),
            int(module.out_channels),
            pair(module.kernel_size),
            pair(module.stride),
            pair(module.padding),
            pair(module.dilation),
            bool(module.modulated),
        )


def deformable_layers(model: nn.Module | BuiltModel) -> list[DeformLayer]:
    """The deformable convs of a model, in module order (which is forward order for these families)."""
    module = model.module if isinstance(model, BuiltModel) else model
    return [DeformLayer.of(n, m) for n, m in module.named_modules() if isinstance(m, DeformableConv2d)]


def config_deformable_layers(config: ModelConfig) -> list[DeformLayer]:
    """The deformable convs ``config`` would have (built on the meta device: no weights)."""
    return deformable_layers(build(config, device="meta"))


# -- geometry (numpy only) ------------------------------------------------------------------------
def regular_grid(
    out_size: tuple[int, int],
    kernel: tuple[int, int] = (3, 3),
    stride: tuple[int, int] = (1, 1),
    padding: tuple[int, int] = (1, 1),
    dilation: tuple[int, int] = (1, 1),
) -> np.ndarray:
    """``p0 + pn``: the ordinary conv's sampling points, ``(H_out, W_out, kh*kw, 2)`` as ``(y, x)``
    in input-map coordinates (taps row-major, as torchvision orders its offsets)."""
    h_out, w_out = out_size
    kh, kw = kernel
    i = np.arange(h_out, dtype=np.float64)[:, None, None]
    j = np.arange(w_out, dtype=np.float64)[None, :, None]
    a = np.repeat(np.arange(kh), kw).astype(np.float64)[None, None, :]
    b = np.tile(np.arange(kw), kh).astype(np.float64)[None, None, :]
    y = i * stride[0] - padding[0] + a * dilation[0]
    x = j * stride[1] - padding[1] + b * dilation[1]
    y, x = np.broadcast_arrays(y, x)
    return np.stack([y, x], axis=-1)


def sampling_points(
    offsets: np.ndarray,
    kernel: tuple[int, int] = (3, 3),
    stride: tuple[int, int] = (1, 1),
    padding: tuple[int, int] = (1, 1),
    dilation: tuple[int, int] = (1, 1),
) -> np.ndarray:
    """``p0 + pn + delta_pn`` for offsets ``(2*kh*kw, H_out, W_out)`` in torchvision's layout:
    ``(H_out, W_out, kh*kw, 2)`` points ``(y, x)`` in the layer's input-map coordinates."""
    offsets = np.asarray(offsets, dtype=np.float64)
    taps = kernel[0] * kernel[1]
    if offsets.ndim != 3 or offsets.shape[0] != 2 * taps:
        raise ValueError(f"offsets of shape {offsets.shape}; expected (2*{taps}, H_out, W_out)")
    grid = regular_grid(offsets.shape[1:], kernel, stride, padding, dilation)
    delta = offsets.reshape(taps, 2, *offsets.shape[1:]).transpose(2, 3, 0, 1)  # (H, W, taps, (dy, dx))
    return grid + delta


def map_stride(resolution: int, size: int) -> float:
    """Image pixels per pixel of a feature map of side ``size`` (the map's cumulative stride).

    The families here halve with stride-2 steps of "same" padding, so a map of side
    ``ceil(resolution / 2**k)`` has stride ``2**k``; anything else falls back to the plain ratio.
    """
    for k in range(16):
        if math.ceil(resolution / 2**k) == size:
            return float(2**k)
    return resolution / size


def _bilinear(values: np.ndarray, y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``values`` ``(C, H, W)`` read at fractional ``(y, x)`` (clamped to the map): ``(len(y), C)``."""
    _, h, w = values.shape
    y = np.clip(y, 0, h - 1)
    x = np.clip(x, 0, w - 1)
    y0 = np.minimum(np.floor(y).astype(int), max(h - 2, 0))
    x0 = np.minimum(np.floor(x).astype(int), max(w - 2, 0))
    y1, x1 = np.minimum(y0 + 1, h - 1), np.minimum(x0 + 1, w - 1)
    fy, fx = (y - y0)[:, None], (x - x0)[:, None]
    top = values[:, y0, x0].T * (1 - fx) + values[:, y0, x1].T * fx
    bottom = values[:, y1, x0].T * (1 - fx) + values[:, y1, x1].T * fx
    return top * (1 - fy) + bottom * fy


# -- what a model does on an image ----------------------------------------------------------------
@dataclass(frozen=True)
class OffsetField:
    """One deformable layer's offsets (and DCNv2 mask) for one image.

    offsets ``(2*kh*kw, H_out, W_out)`` float32 in torchvision's layout, in input-map pixels;
    mask ``(kh*kw, H_out, W_out)`` in [0, 1] (None without modulation); ``input_stride`` and
    ``output_stride``: image pixels per pixel of the layer's input and output maps.
    """

    layer: DeformLayer
    offsets: np.ndarray = field(repr=False)
    mask: np.ndarray | None = field(repr=False)
    input_size: tuple[int, int]
    input_stride: float
    output_stride: float

    @property
    def name(self) -> str:
        return self.layer.name

    @property
    def out_size(self) -> tuple[int, int]:
        return (int(self.offsets.shape[1]), int(self.offsets.shape[2]))

    def _geometry(self) -> dict[str, tuple[int, int]]:
        lay = self.layer
        return {"kernel": lay.kernel, "stride": lay.stride, "padding": lay.padding, "dilation": lay.dilation}

    def points(self) -> np.ndarray:
        """Deformed sampling points ``(H_out, W_out, taps, 2)`` in input-map coordinates."""
        return sampling_points(self.offsets, **self._geometry())

    def regular_points(self) -> np.ndarray:
        """The regular grid ``(H_out, W_out, taps, 2)`` in input-map coordinates."""
        return regular_grid(self.out_size, **self._geometry())

    def image_points(self, i: int, j: int, deformed: bool = True) -> np.ndarray:
        """The ``taps`` sampling points ``(y, x)`` of output ``(i, j)`` in image pixels."""
        self.check_location(i, j)
        grid = self.points() if deformed else self.regular_points()
        return grid[i, j] * self.input_stride

    def location_pixel(self, i: int, j: int) -> tuple[float, float]:
        """Where output ``(i, j)`` sits in the image (the centre of its regular grid)."""
        return (i * self.output_stride, j * self.output_stride)

    def check_location(self, i: int, j: int) -> None:
        h, w = self.out_size
        if not (0 <= i < h and 0 <= j < w):
            raise InputError(f"location ({i}, {j}) is outside {self.name}'s {h}x{w} output")

    def tap_offsets(self, i: int, j: int) -> np.ndarray:
        """``(taps, 2)`` offsets ``(dy, dx)`` of output ``(i, j)`` in input-map pixels."""
        self.check_location(i, j)
        return self.offsets[:, i, j].reshape(self.layer.taps, 2).astype(np.float64)

    def magnitude(self) -> np.ndarray:
        """``(H_out, W_out)``: mean over taps of the offset length, in input-map pixels."""
        pairs = self.offsets.reshape(self.layer.taps, 2, *self.out_size).astype(np.float64)
        return np.sqrt((pairs**2).sum(axis=1)).mean(axis=0)

    def mean_offset(self) -> np.ndarray:
        """``(2, H_out, W_out)``: ``(dy, dx)`` averaged over the taps (the field's translation)."""
        return self.offsets.reshape(self.layer.taps, 2, *self.out_size).astype(np.float64).mean(axis=0)

    def quiver(self, every: int = 1, tap: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Arrows over the whole map in image pixels: origins ``(N, 2)`` (each output's own position)
        and vectors ``(N, 2)`` ``(dy, dx)`` (the mean offset, or tap ``tap``'s), every ``every`` outputs."""
        if tap is None:
            vectors = self.mean_offset()
        else:
            if not 0 <= tap < self.layer.taps:
                raise InputError(f"tap {tap}; allowed: 0 to {self.layer.taps - 1}")
            vectors = self.offsets[2 * tap : 2 * tap + 2].astype(np.float64)
        h, w = self.out_size
        ii, jj = np.meshgrid(np.arange(0, h, every), np.arange(0, w, every), indexing="ij")
        origins = np.stack([ii.ravel(), jj.ravel()], axis=1) * self.output_stride
        arrows = vectors[:, ii.ravel(), jj.ravel()].T * self.input_stride
        return origins.astype(np.float64), arrows

    def mask_at(self, i: int, j: int) -> np.ndarray | None:
        self.check_location(i, j)
        return None if self.mask is None else self.mask[:, i, j].astype(np.float64)


@dataclass(frozen=True)
class DeformView:
    """Every deformable layer of a model on one image, with the picture the model saw."""

    image: np.ndarray = field(repr=False)  #: ``(R, R, 3)`` uint8, the square crop at the model's resolution
    fields: dict[str, OffsetField] = field(repr=False)
    #: Execution order of every deformable layer and every other spatial conv/pool (for chains).
    order: tuple[str, ...] = ()

    @property
    def names(self) -> list[str]:
        return list(self.fields)

    def chain(self, name: str) -> list[str]:
        """The run of consecutive deformable layers that ends at ``name``, first layer first."""
        if name not in self.fields:
            raise InputError(f"'{name}' is not a deformable layer; allowed: {', '.join(self.fields)}")
        position = self.order.index(name)
        run = [name]
        for previous in reversed(self.order[:position]):
            if previous not in self.fields:
                break
            run.insert(0, previous)
        return run

    def summary(self) -> list[LayerOffsets]:
        """One row per layer: name, output size, stride and offset lengths (image px)."""
        rows = []
        for f in self.fields.values():
            magnitude = f.magnitude() * f.input_stride
            rows.append(
                LayerOffsets(
                    layer=f.name,
                    out_size=f.out_size,
                    input_stride=f.input_stride,
                    mean_offset=float(magnitude.mean()),
                    max_offset=float(magnitude.max()),
                    mean_mask=None if f.mask is None else float(f.mask.mean()),
                )
            )
        return rows


@dataclass(frozen=True)
class LayerOffsets:
    """How far one deformable layer's offsets move its taps, in image pixels (``DeformView.summary``)."""

    layer: str
    out_size: tuple[int, int]
    input_stride: float
    mean_offset: float
    max_offset: float
    #: The modulation mask's mean (DCNv2); None for a layer without one.
    mean_mask: float | None


def _spatial(module: nn.Module) -> bool:
    if isinstance(module, DeformableConv2d):
        return True
    if isinstance(module, nn.Conv2d):
        return module.kernel_size != (1, 1) or module.stride != (1, 1)
    return isinstance(module, (nn.MaxPool2d, nn.AvgPool2d))


def offset_fields(
    built: BuiltModel,
    image: Image.Image,
    mean: Sequence[float] = (INPUT_MEAN,),
    std: Sequence[float] = (INPUT_STD,),
) -> DeformView:
    """Run ``image`` (resized and centre-cropped to the model's resolution, normalised with
    ``mean``/``std``) through ``built`` in eval mode; return every deformable layer's offset field.

    The offsets are read with forward hooks on each layer's ``offset_conv`` (through
    :func:`explorer.measure.hooks.hooked`: removed afterwards, train/eval mode restored), so a shared
    model is only read, never changed.
    """
    config = built.config
    resolution = config.input_resolution
    model = built.module
    offset_convs = {f"{n}.offset_conv": n for n, m in model.named_modules() if isinstance(m, DeformableConv2d)}
    if not offset_convs:
        raise InputError(f"{config.query} has no deformable layers; add deform=... (e.g. {DEFAULT_QUERY})")
    raw: dict[str, torch.Tensor] = {}
    inputs: dict[str, tuple[int, int]] = {}
    order: list[str] = []

    def keep_raw(name: str) -> Callable[..., None]:
        def hook(module: nn.Module, args: tuple[Any, ...], output: torch.Tensor) -> None:
            raw[name] = output.detach()

        return hook

    def keep_input(name: str) -> Callable[..., None]:
        def hook(module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
            if name not in inputs:
                order.append(name)
                inputs[name] = (int(args[0].shape[-2]), int(args[0].shape[-1]))

        return hook

    modules = dict(model.named_modules())
    spatial = [n for n, m in modules.items() if n and n not in offset_convs and _spatial(m)]
    hooks = {conv: keep_raw(layer) for conv, layer in offset_convs.items()} | {n: keep_input(n) for n in spatial}
    device = next(model.parameters()).device
    x = preprocess(image, resolution, config.in_channels, tuple(mean), tuple(std)).to(device)
    with full_float32(), hooked(model, forward=hooks, training=False), torch.no_grad():
        model(x)
    fields: dict[str, OffsetField] = {}
    for name in order:
        if name not in raw:
            continue
        module = modules[name]
        layer = DeformLayer.of(name, module)
        out = raw[name][0].float().cpu()
        offsets = out[: 2 * layer.taps].numpy().astype(np.float32)
        mask = torch.sigmoid(out[2 * layer.taps :]).numpy().astype(np.float32) if layer.modulated else None
        fields[name] = OffsetField(
            layer=layer,
            offsets=offsets,
            mask=mask,
            input_size=inputs[name],
            input_stride=map_stride(resolution, inputs[name][0]),
            output_stride=map_stride(resolution, offsets.shape[1]),
        )
    return DeformView(image=display_image(image, resolution), fields=fields, order=tuple(order))


def stacked_points(view: DeformView, name: str, i: int, j: int, levels: int = 3) -> list[np.ndarray]:
    """Points of points: the image pixels ``(y, x)`` that output ``(i, j)`` of layer ``name`` reads
    through up to ``levels`` consecutive deformable layers (see the module docstring).

    Element ``n`` of the result is ``(taps**(n+1), 2)``: level 0 is ``name``'s own sampling points,
    level 1 the previous deformable layer's points for each of those, and so on; point ``k`` of
    level ``n+1`` belongs to point ``k // taps`` of level ``n``. Fewer levels come back when the
    chain of deformable layers is shorter.
    """
    if levels < 1:
        raise InputError(f"levels={levels}; allowed: 1 or more")
    chain = view.chain(name)[::-1][:levels]  # top first
    top = view.fields[chain[0]]
    result = [top.image_points(i, j)]
    for lower_name in chain[1:]:
        lower = view.fields[lower_name]
        # The upper level's points are positions in this layer's output map:
        where = result[-1] / lower.output_stride
        taps = lower.layer.taps
        offsets = _bilinear(lower.offsets.astype(np.float64), where[:, 0], where[:, 1]).reshape(-1, taps, 2)
        lay = lower.layer
        a = np.repeat(np.arange(lay.kernel[0]), lay.kernel[1]).astype(np.float64)
        b = np.tile(np.arange(lay.kernel[1]), lay.kernel[0]).astype(np.float64)
        y = where[:, 0:1] * lay.stride[0] - lay.padding[0] + a[None] * lay.dilation[0] + offsets[..., 0]
        x = where[:, 1:2] * lay.stride[1] - lay.padding[1] + b[None] * lay.dilation[1] + offsets[..., 1]
        result.append(np.stack([y, x], axis=-1).reshape(-1, 2) * lower.input_stride)
    return result


# -- images ---------------------------------------------------------------------------------------
def generated_shape(seed: int, resolution: int = 32, shape: str | None = None) -> tuple[Image.Image, np.ndarray]:
    """Image 0 of the shapes data set with ``seed`` (only ``shape``s, if given, at a random scale and
    rotation), as an RGB picture, with its mask ``(R, R)`` bool."""
    from explorer.data.shapes import picture

    pixels, mask, _box = picture(seed, resolution, shape)
    return Image.fromarray(pixels), mask


# -- learning the offsets -------------------------------------------------------------------------
@dataclass
class TrainedPair:
    """The same network before and after training on shapes (each a private model)."""

    before: ExplainableModel  #: offsets all zero (a regular grid)
    after: ExplainableModel  #: after ``steps`` steps
    steps: int
    losses: list[float] = field(default_factory=list)


def offsets_settings(warm: bool = False, **changes: object) -> TrainSettings:
    """How offsets are learned: Adam at :data:`LEARNING_RATE`, batch :data:`TRAIN_BATCH`, the shapes
    trainer's data (rotated, rescaled shapes); ``warm``: refining a trained model, at its warm-start
    rate; accuracy on :data:`HELD_OUT_IMAGES` held-out images. ``changes``: the steps, the seed,
    autocast, ``held_out=0`` (not measured), ..."""
    recipe = {"batch": TRAIN_BATCH, "held_out": HELD_OUT_IMAGES, **({} if warm else {"lr": LEARNING_RATE})}
    return shapes_settings(warm, **{**recipe, **changes})


def offsets_source(
    config: ModelConfig, start: ExplainableModel | None = None, resolution: int = TRAIN_RESOLUTION
) -> Fresh | Copied:
    """What learns the offsets: ``config``'s shapes version at ``resolution``, from fresh weights, or
    a private copy of ``start`` (a trained model of this architecture, e.g. a shipped one, see
    :func:`explorer.analysis.training.warm_start_for`) at the start's own side."""
    if start is None:
        return Fresh(shapes_config(config, resolution))
    return shapes_source(config, start.built.config.input_resolution, start)


def untrained(spec: TrainSpec) -> ExplainableModel:
    """The "before" of ``spec``'s run: its fresh model (offsets all zero, from the settings' seed) or
    its start with the offsets zeroed (the regular grid). Raises ValueError for a network without
    deformable layers."""
    source, device = spec.model, spec.device if spec.device is not None else "cpu"
    norm: dict[str, Any] = {"categories": CLASSES, "mean": (INPUT_MEAN,), "std": (INPUT_STD,)}
    if isinstance(source, Fresh):
        before = instantiate(source.config, device, batch=spec.settings.batch, training=False, seed=spec.settings.seed)
        model = ExplainableModel(before, "untrained (offsets all zero: the regular grid)", **norm)
    elif isinstance(source, Copied):
        before = untrained_copy(source.built)
        before.module.to(device)
        model = ExplainableModel(before, f"the {source.origin} with its offsets zeroed (the regular grid)", **norm)
    else:
        raise TypeError("the offsets are learned on a Fresh model or a Copied one, not on an Owned one")
    if not deformable_layers(before):
        raise InputError(f"{spec.config.query} has no deformable layers; add deform=... (e.g. {DEFAULT_QUERY})")
    return model


def train_offsets(spec: TrainSpec) -> TrainedPair:
    """Fit ``spec``'s model (see :func:`offsets_source` and :func:`offsets_settings`) to the shapes
    data set with :func:`explorer.analysis.training.train_on_shapes`; return it with the untrained
    model it started from (:func:`untrained`). Nothing shared is touched: "after" trains a private
    copy of "before" (or of the start). Accuracy is measured on ``settings.held_out`` images of
    another seed (0: not measured)."""
    before = untrained(spec)
    source = spec.model if isinstance(spec.model, Copied) else Copied(before.built)
    run = train_on_shapes(dataclasses.replace(spec, model=source))
    return TrainedPair(before, run.model, run.steps, list(run.losses))


def untrained_copy(built: BuiltModel) -> BuiltModel:
    """A private copy of ``built`` with every offset conv zeroed (the regular grid: "before")."""
    copied = private_copy(built)
    for module in copied.module.modules():
        if isinstance(module, DeformableConv2d):
            nn.init.zeros_(module.offset_conv.weight)
            nn.init.zeros_(module.offset_conv.bias)  # type: ignore[arg-type]  # the offset conv has a bias
    return copied
