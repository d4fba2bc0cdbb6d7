"""Does deformable sampling adapt to the object? The spread study: over held-out shapes, how far a
deformable layer's sampling points spread around each output location on the object, against the
object's size, with Spearman's rank correlation (the deformable lesson's and page's headline)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from explorer.analysis.deform import offset_fields
from explorer.data.shapes import INPUT_MEAN, INPUT_STD
from explorer.errors import InputError
from explorer.families import BuiltModel

__all__ = ["SPREAD_IMAGES", "SPREAD_SEED", "SpreadStudy", "spearman", "spread_against_size"]

#: Held-out shapes in the spread study (seed far from any training seed).
SPREAD_IMAGES = 200
SPREAD_SEED = 7_000_001


def spearman(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> float:
    """Spearman's rank correlation of two samples (average ranks for ties); nan when either is constant."""
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if x.shape != y.shape or x.size < 2:
        raise ValueError(f"two samples of one length (2 or more) needed; got {x.shape} and {y.shape}")

    def ranks(v: np.ndarray) -> np.ndarray:
        order = np.argsort(v, kind="stable")
        r = np.empty(v.size)
        r[order] = np.arange(v.size, dtype=np.float64)
        for value in np.unique(v):  # ties share their mean rank
            tied = v == value
            r[tied] = r[tied].mean()
        return r

    rx, ry = ranks(x), ranks(y)
    if rx.std() == 0 or ry.std() == 0:
        return math.nan
    return float(np.corrcoef(rx, ry)[0, 1])


@dataclass(frozen=True)
class SpreadStudy:
    """A deformable layer's sampling spread against the object's size over held-out shapes.

    ``sizes``: the shape's size, the square root of its mask area, in image pixels. ``spreads``: the
    root-mean-square distance of the layer's ``k*k`` sampling points from their centroid, in image
    pixels, averaged over the output locations that sit on the shape (the one nearest the shape's
    centroid when none does). A regular 3x3 grid has spread ``sqrt(4/3) * stride``; a layer whose
    sampling adapts to geometry spreads its points wider on bigger objects (``rho`` > 0).
    """

    layer: str
    seed: int
    sizes: np.ndarray = field(repr=False)
    spreads: np.ndarray = field(repr=False)
    regular_spread: float
    rho: float

    @property
    def n(self) -> int:
        return int(self.sizes.size)


def spread_against_size(
    built: BuiltModel,
    layer: str | None = None,
    n: int = SPREAD_IMAGES,
    seed: int = SPREAD_SEED,
    mean: Sequence[float] = (INPUT_MEAN,),
    std: Sequence[float] = (INPUT_STD,),
) -> SpreadStudy:
    """Measure :class:`SpreadStudy` for ``layer`` (default: the last deformable layer) on images
    ``0..n-1`` of the shapes data set with ``seed`` at the model's resolution."""
    from explorer.data.shapes import generate

    config = built.config
    batch = generate(n, resolution=config.input_resolution, in_channels=3, seed=seed)
    sizes, spreads = [], []
    regular = math.nan
    for k in range(n):
        pixels = (batch.images[k].permute(1, 2, 0).numpy() * 255).round().clip(0, 255).astype(np.uint8)
        view = offset_fields(built, Image.fromarray(pixels), mean, std)
        name = layer or view.names[-1]
        if name not in view.fields:
            raise InputError(f"no deformable layer '{name}'; deformable layers: {', '.join(view.names)}")
        f = view.fields[name]
        mask = batch.masks[k].numpy()
        points = f.points() * f.input_stride  # (H, W, taps, 2) image px
        centred = points - points.mean(axis=2, keepdims=True)
        spread = np.sqrt((centred**2).sum(axis=-1).mean(axis=-1))  # (H, W)
        h, w = f.out_size
        rows = np.clip(np.round(np.arange(h) * f.output_stride).astype(int), 0, mask.shape[0] - 1)
        cols = np.clip(np.round(np.arange(w) * f.output_stride).astype(int), 0, mask.shape[1] - 1)
        on = mask[np.ix_(rows, cols)]
        if not on.any():
            ys, xs = np.nonzero(mask)
            cy, cx = (ys.mean(), xs.mean()) if ys.size else (mask.shape[0] / 2, mask.shape[1] / 2)
            on = np.zeros((h, w), dtype=bool)
            on[min(h - 1, round(cy / f.output_stride)), min(w - 1, round(cx / f.output_stride))] = True
        sizes.append(math.sqrt(float(mask.sum())))
        spreads.append(float(spread[on].mean()))
        grid = f.regular_points()[0, 0] * f.input_stride
        regular = float(np.sqrt(((grid - grid.mean(axis=0)) ** 2).sum(axis=-1).mean()))
    # Rounded to 1e-4 px: float noise below that must not rank (zero offsets give one tied value).
    sizes_a, spreads_a = np.asarray(sizes), np.round(np.asarray(spreads), 4)
    return SpreadStudy(
        layer=name,
        seed=seed,
        sizes=sizes_a,
        spreads=spreads_a,
        regular_spread=regular,
        rho=spearman(sizes_a, spreads_a),
    )
