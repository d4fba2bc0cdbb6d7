"""The effective receptive field (Luo et al., NeurIPS 2016, "Understanding the Effective Receptive
Field in Deep Convolutional Neural Networks"): how strongly each input pixel moves one unit.

The unit is the centre of a layer's map, row ``h // 2`` and column ``w // 2``. Its field is the
mean over a batch of inputs of ``|d(sum over channels of y[c, h//2, w//2]) / dx|``, summed over the
input's channels and normalised to sum 1: an ``(H, W)`` map over the model's input (after
preprocessing). The whole batch goes through one forward and one ``torch.autograd.grad`` per layer
(eval mode: the samples do not interact, so the gradient of the batch's sum is each sample's own).
Several layers share one forward (:func:`effective_fields`): the graph is kept between their
backward passes.

Numbers per field: the RMS radius (pixels, around the map's centroid), ``side95`` (the smallest
odd square, centred on the centroid's pixel, that holds 95 % of the map) and the theoretical side
from the layer graph's recursion (Araujo et al., Distill 2019), the number the Graph page shows.
Luo et al.'s laws: the RMS radius grows like sqrt(n) with n stacked convs while the theoretical
side grows like n; downsampling and dilation enlarge it; training enlarges it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from explorer.analysis.features import default_layer, depth_layers, run_to, stage_ends
from explorer.data.images import preprocess
from explorer.errors import InputError
from explorer.families import BuiltModel
from explorer.knobs import ModelConfig
from explorer.measure.hooks import model_lock
from explorer.runtime.device import full_float32
from explorer.runtime.weights import ExplainableModel

#: Inputs averaged over by default (Luo et al. average over many; 8 gives a smooth map here).
SAMPLES = 8
#: The mass ``side95`` holds.
MASS = 0.95


@dataclass(frozen=True)
class Theoretical:
    """A layer's theoretical receptive field: ``side`` input pixels along one side, ``jump`` input
    pixels between neighbouring outputs (both None where the graph has no spatial meaning).

    ``whole``: a global pooling feeds the layer (a squeeze-excitation branch), so every input pixel
    can reach every unit; ``side`` is then the input's side, not the graph's recursion (which, fed
    a global pool's "kernel", grows past any picture: 17,912,515 px for MobileNetV3-Small at 64 px)."""

    side: int | None
    jump: int | None
    whole: bool = False


@dataclass(frozen=True)
class EffectiveField:
    """The effective receptive field of one unit (see the module docstring)."""

    layer: str
    #: (row, column) of the unit in the layer's map: ``(h // 2, w // 2)``.
    unit: tuple[int, int]
    #: The layer's map size ``(h, w)``.
    cells: tuple[int, int]
    #: ``(H, W)`` float32, non-negative, summing to 1 (all zeros when the gradient is zero).
    field: np.ndarray
    #: (row, column) of the map's centroid, in input pixels.
    centroid: tuple[float, float]
    rms_radius: float
    side95: int
    theoretical: Theoretical
    samples: int

    @property
    def ratio(self) -> float | None:
        """``side95`` over the theoretical side: the share of the graph's field the unit really uses."""
        side = self.theoretical.side
        return None if not side else self.side95 / side

    @property
    def radius_ratio(self) -> float | None:
        """The RMS radius over the theoretical half-side."""
        side = self.theoretical.side
        return None if not side else self.rms_radius / (side / 2)


def field_numbers(field: np.ndarray) -> tuple[tuple[float, float], float, int]:
    """(centroid, RMS radius, side95) of a non-negative ``(H, W)`` map summing to 1.

    The RMS radius is ``sqrt(sum p * |pixel - centroid|^2)``; ``side95`` the smallest odd side
    ``2k + 1`` of a square centred on the centroid's pixel (clipped at the border) holding at least
    95 % of the mass (the whole image's side when no square inside does). An all-zero map has
    radius 0 and side 0."""
    total = float(field.sum())
    height, width = field.shape
    if total <= 0 or not math.isfinite(total):
        return (height / 2, width / 2), 0.0, 0
    p = field.astype(np.float64) / total
    rows, cols = np.arange(height, dtype=np.float64), np.arange(width, dtype=np.float64)
    cy, cx = float(p.sum(1) @ rows), float(p.sum(0) @ cols)
    spread = p.sum(1) @ (rows - cy) ** 2 + p.sum(0) @ (cols - cx) ** 2
    r, c = min(height - 1, max(0, round(cy))), min(width - 1, max(0, round(cx)))
    cumulative = np.pad(p, ((1, 0), (1, 0))).cumsum(0).cumsum(1)  # summed-area table
    side = max(height, width)
    for k in range(max(height, width)):
        top, bottom, left, right = max(0, r - k), min(height, r + k + 1), max(0, c - k), min(width, c + k + 1)
        mass = cumulative[bottom, right] - cumulative[top, right] - cumulative[bottom, left] + cumulative[top, left]
        if mass >= MASS - 1e-9:
            side = 2 * k + 1
            break
    return (cy, cx), float(math.sqrt(max(spread, 0.0))), side


def theoretical_fields(config: ModelConfig, names: Sequence[str]) -> dict[str, Theoretical]:
    """The theoretical field of each module path in ``names``, from the layer graph (torch.fx on the
    meta device): the largest ``rf`` among the graph's nodes inside the module, with its jump; the
    whole input where a global pooling (to 1x1) lies upstream of the module's output."""
    from explorer.analysis.graph import layer_graph

    graph = layer_graph(config)
    parents: dict[str, list[str]] = {}
    for source, target in graph.edges:
        parents.setdefault(target, []).append(source)
    pooled = {
        n.id
        for n in graph.nodes
        if "adaptive" in n.op.lower() and len(n.output_shape) == 4 and n.output_shape[2:] == (1, 1)
    }
    found: dict[str, Theoretical] = {}
    for name in names:
        inside = [
            n
            for n in graph.nodes
            if n.rf is not None and (n.name == name or n.name.startswith((f"{name}.", f"{name}:")))
        ]
        best = max(inside, key=lambda n: (n.rf or 0, n.index), default=None)
        if best is None:
            found[name] = Theoretical(None, None)
        elif _reaches(best.id, pooled, parents):
            found[name] = Theoretical(config.input_resolution, None, whole=True)
        else:
            found[name] = Theoretical(best.rf, best.jump)
    return found


def _reaches(node: str, targets: set[str], parents: dict[str, list[str]]) -> bool:
    """Whether any of ``targets`` is ``node`` or lies upstream of it."""
    seen, stack = set(), [node]
    while stack:
        current = stack.pop()
        if current in targets:
            return True
        if current not in seen:
            seen.add(current)
            stack.extend(parents.get(current, ()))
    return False


def noise_inputs(config: ModelConfig, samples: int = SAMPLES, seed: int = 0) -> torch.Tensor:
    """``samples`` standard-normal inputs ``(N, C, R, R)`` at the config's side, drawn from ``seed``.

    Drawn on the CPU (as the models' weights are, ``explorer.runtime.models``) so a seed gives the
    same inputs on every device; the analyses move them to the model's device."""
    if not 1 <= samples <= 256:
        raise InputError(f"samples must be between 1 and 256, not {samples}")
    side = config.input_resolution
    generator = torch.Generator().manual_seed(int(seed))
    return torch.randn(samples, config.in_channels, side, side, generator=generator)


def input_gradients(
    built: BuiltModel, inputs: torch.Tensor, layers: Sequence[str]
) -> tuple[dict[str, np.ndarray], dict[str, tuple[int, int]]]:
    """Per layer, ``|d(sum over channels of y[:, c, h//2, w//2]) / dx|`` summed over the input's
    channels, one ``(N, H, W)`` map per input (eval mode: each input's gradient is its own), and the
    layer's map size ``(h, w)``. One forward for every layer, then one gradient each."""
    model = built.module
    device = next(model.parameters()).device
    if inputs.dim() != 4:
        raise ValueError(f"expected inputs (N, C, H, W), got {tuple(inputs.shape)}")
    names = list(dict.fromkeys(layers))
    cells: dict[str, tuple[int, int]] = {}

    def centre_unit(name: str, output: torch.Tensor) -> torch.Tensor:
        if output.dim() != 4:
            raise InputError(f"layer '{name}' has no spatial output (shape {tuple(output.shape)}); pick a conv layer")
        h, w = output.shape[-2:]
        cells[name] = (int(h), int(w))
        return output[:, :, h // 2, w // 2].sum()  # a new tensor now: later in-place ops cannot change it

    grads: dict[str, np.ndarray] = {}
    # The model's lock for the backward passes too (``run_to`` holds it, through ``hooked``, for the
    # forward only): work that runs backward through a shared model is serialised on it.
    with model_lock(model), full_float32(), torch.enable_grad():
        x = inputs.detach().to(device=device, dtype=torch.float32).requires_grad_(True)
        units = run_to(model, x, names, centre_unit)
        for index, name in enumerate(names):
            (grad,) = torch.autograd.grad(units[name], x, retain_graph=index < len(names) - 1)
            grads[name] = grad.abs().sum(1).float().cpu().numpy()
    return grads, cells


def _field(
    name: str, grad: np.ndarray, cells: tuple[int, int], theoretical: Theoretical, samples: int
) -> EffectiveField:
    total = float(grad.sum())
    field = (grad / total if total > 0 else np.zeros_like(grad)).astype(np.float32)
    centroid, radius, side = field_numbers(field)
    h, w = cells
    return EffectiveField(name, (h // 2, w // 2), (h, w), field, centroid, radius, side, theoretical, samples)


def effective_fields(
    built: BuiltModel, inputs: torch.Tensor, layers: Sequence[str], theoretical: bool = True
) -> list[EffectiveField]:
    """The effective field of the centre unit of each of ``layers`` (module paths), over ``inputs``
    ``(N, C, H, W)`` (preprocessed images, or :func:`noise_inputs`): the mean of the inputs' maps,
    normalised. ``theoretical``: also read the graph's side (a meta trace)."""
    grads, cells = input_gradients(built, inputs, layers)
    sides = theoretical_fields(built.config, list(grads)) if theoretical else {}
    unknown = Theoretical(None, None)
    samples = int(inputs.shape[0])
    return [_field(n, g.mean(0), cells[n], sides.get(n, unknown), samples) for n, g in grads.items()]


def per_input_fields(built: BuiltModel, inputs: torch.Tensor, layer: str | None = None) -> list[EffectiveField]:
    """The centre unit's field of ``layer`` for each input alone (one forward and one gradient for all):
    how the field changes with the picture (a deformable conv's claim to adapt it)."""
    name = layer or default_layer(built)
    grads, cells = input_gradients(built, inputs, [name])
    side = theoretical_fields(built.config, [name])[name]
    return [_field(name, grad, cells[name], side, 1) for grad in grads[name]]


def effective_field(built: BuiltModel, inputs: torch.Tensor, layer: str | None = None) -> EffectiveField:
    """:func:`effective_fields` of one layer (default: the last stage with spatial output)."""
    return effective_fields(built, inputs, [layer or default_layer(built)])[0]


def field_by_depth(built: BuiltModel, inputs: torch.Tensor, every_block: bool = True) -> list[EffectiveField]:
    """The effective field at every place along the depth (:func:`depth_layers`), or only at the end of
    every stage (:func:`stage_ends`), from one forward.

    Each place costs a backward pass down to the input, so every place of an n-layer stack costs
    about n^2 / 2 layers' backward (32 uniform 3x3 layers at 129 px, 8 inputs: about a minute on
    the 2-core CPU); the stage ends are a handful."""
    places = depth_layers(built) if every_block else stage_ends(built)
    return effective_fields(built, inputs, [layer.name for layer in places])


def image_inputs(model: ExplainableModel, images: Sequence[Image.Image]) -> torch.Tensor:
    """``images`` preprocessed for ``model`` (its side, its weights' normalisation) as one batch."""
    side, channels = model.config.input_resolution, model.config.in_channels
    return torch.cat([preprocess(image, side, channels, model.mean, model.std) for image in images])
