"""Deletion and insertion curves (Petsiuk et al., "RISE", BMVC 2018): does the map point at what the model uses?

Deletion: the target's probability as the most salient k % of pixels (by the map, all channels of a
pixel together) are replaced by zero in the normalised input (the training data's mean colour), k from
0 to 100 %. A faithful map makes it fall fast: a small area under the curve. Insertion: start from a
blurred copy of the image and put the most salient pixels back; a faithful map makes the probability
rise fast: a large area. A random map (:func:`random_map`) is the yardstick both ways.

Pixels of equal saliency are taken in row-major order (a stable sort), so a map with flat regions
(Grad-CAM's ReLU zeros) is ranked repeatably. Every image is made on the model's device and run in
batches under the model's lock (:func:`explorer.measure.hooks.hooked`, eval mode, no gradients).
"""

from __future__ import annotations

import numpy as np
import torch
from torchvision.transforms.functional import gaussian_blur

from explorer.analysis.curves import RANDOM, Curve, CurvePair
from explorer.errors import InputError
from explorer.families import BuiltModel
from explorer.measure.hooks import hooked
from explorer.runtime.device import full_float32

__all__ = ["RANDOM", "Curve", "CurvePair", "curves", "deletion_insertion", "random_map"]

#: Images per forward batch (21 steps at 224 px fit a CPU's memory comfortably).
BATCH = 8


def random_map(height: int, width: int, seed: int = 0, device: torch.device | str = "cpu") -> np.ndarray:
    """A uniform random saliency map ``(H, W)``, drawn on ``device`` from a seeded generator."""
    generator = torch.Generator(device=device).manual_seed(seed)
    return torch.rand(height, width, generator=generator, device=device).cpu().numpy()


def _order(saliency: np.ndarray, device: torch.device) -> torch.Tensor:
    """Pixel indices, most salient first (ties in row-major order)."""
    values = torch.as_tensor(np.asarray(saliency, dtype=np.float32), device=device).flatten()
    values = torch.nan_to_num(values, nan=float("-inf"))
    return torch.sort(values, descending=True, stable=True).indices


def _blurred(image: torch.Tensor) -> torch.Tensor:
    """Insertion's starting canvas: the image under a Gaussian blur about a ninth of its side wide."""
    side = min(image.shape[-2:])
    kernel = max(3, (side // 9) | 1)
    return gaussian_blur(image, [kernel, kernel], [kernel / 3.0, kernel / 3.0])


def deletion_insertion(
    built: BuiltModel, image: torch.Tensor, saliency: np.ndarray, target: int, steps: int = 20
) -> tuple[Curve, Curve]:
    """The deletion and insertion curves of ``saliency`` ``(H, W)`` for ``image`` ``(1, C, H, W)``
    (preprocessed) and class ``target``, at ``steps + 1`` evenly spaced fractions from 0 to 1."""
    pair = curves(built, image, {"map": saliency}, target, steps, random_seed=None)[0]
    return pair.deletion, pair.insertion


def curves(
    built: BuiltModel,
    image: torch.Tensor,
    maps: dict[str, np.ndarray],
    target: int,
    steps: int = 20,
    random_seed: int | None = 0,
) -> list[CurvePair]:
    """Deletion and insertion curves for each named map, plus (unless ``random_seed`` is None) a random
    map's, labelled :data:`RANDOM`, last."""
    if steps < 1:
        raise InputError(f"the curves need at least 1 step (got {steps})")
    model = built.module
    device = next(model.parameters()).device
    image = image.to(device)
    height, width = image.shape[-2:]
    named = dict(maps)
    for label, saliency in named.items():
        if np.shape(saliency) != (height, width):
            raise ValueError(f"map '{label}' is {np.shape(saliency)}, the image {height}x{width}")
    if random_seed is not None:
        named[RANDOM] = random_map(height, width, random_seed, device)
    pixels = height * width
    fractions = tuple(i / steps for i in range(steps + 1))
    counts = [round(f * pixels) for f in fractions]
    with full_float32(), hooked(model, training=False), torch.no_grad():
        canvas = _blurred(image)
        if not 0 <= target < model(image[:1]).shape[1]:
            raise InputError(f"target class {target} is out of range")
        results = []
        for label, saliency in named.items():
            order = _order(saliency, device)
            curves_ = []
            for start, fill in ((image, torch.zeros_like(image)), (canvas, image)):
                probabilities: list[float] = []
                for first in range(0, len(counts), BATCH):
                    batch = []
                    for count in counts[first : first + BATCH]:
                        mask = torch.zeros(pixels, dtype=torch.bool, device=device)
                        mask[order[:count]] = True
                        batch.append(torch.where(mask.view(1, 1, height, width), fill, start))
                    out = torch.softmax(model(torch.cat(batch)), dim=1)[:, target]
                    probabilities.extend(float(p) for p in out.cpu())
                curves_.append(Curve(fractions, tuple(probabilities)))
            results.append(CurvePair(label, curves_[0], curves_[1]))
    return results
