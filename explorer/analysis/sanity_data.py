"""The sanity check's result in plain data (no torch): the maps and Spearman rank correlations after each
randomisation step, read by the views. :mod:`explorer.analysis.sanity` computes it."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from explorer.analysis.methods import METHODS, Method

__all__ = ["PASS_BELOW", "SANITY_METHODS", "SanityCheck", "SanityStep", "rank_average", "spearman"]


#: The methods the strip shows by default: the cheap ones, and the one the paper caught out.
SANITY_METHODS = (Method.GRADCAM, Method.GRADIENTS, Method.GUIDED_BACKPROP)
#: A method passes when its fully randomised map's Spearman correlation with the trained map is below this.
PASS_BELOW = 0.5


def rank_average(values: np.ndarray) -> np.ndarray:
    """Ranks of ``values`` (flattened), ties sharing their average rank (as ``scipy.stats.rankdata``)."""
    flat = np.asarray(values, dtype=np.float64).ravel()
    order = np.argsort(flat, kind="stable")
    ordered = flat[order]
    starts = np.concatenate(([0], np.flatnonzero(np.diff(ordered)) + 1))
    ends = np.concatenate((starts[1:], [flat.size]))
    ranks = np.empty(flat.size, dtype=np.float64)
    ranks[order] = np.repeat((starts + ends - 1) / 2.0, ends - starts)
    return ranks


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation of two maps of the same shape; NaN when either is constant (no ranking)."""
    if np.shape(a) != np.shape(b):
        raise ValueError(f"maps {np.shape(a)} and {np.shape(b)} differ in shape")
    ra, rb = rank_average(a), rank_average(b)
    ra -= ra.mean()
    rb -= rb.mean()
    scale = math.sqrt(float((ra * ra).sum()) * float((rb * rb).sum()))
    return float((ra * rb).sum() / scale) if scale > 0 else math.nan


@dataclass(frozen=True)
class SanityStep:
    #: The stage re-initialised in this step (every stage above it already is).
    stage: str
    #: Its modules that hold parameters, as in ``named_modules()``.
    modules: tuple[str, ...]
    #: Per method, the map ``(H, W)`` of the network randomised down to this stage.
    maps: dict[Method, np.ndarray]
    #: Per method, Spearman rank correlation of that map with the trained map (NaN: a flat map).
    spearman: dict[Method, float]

    @property
    def randomized(self) -> str:
        """The module names re-initialised in this step, as one string (``conv1+bn1``)."""
        return "+".join(self.modules)


@dataclass(frozen=True)
class SanityCheck:
    target: int
    layer: str
    methods: tuple[Method, ...]
    #: Per method, the trained model's map ``(H, W)``.
    trained: dict[Method, np.ndarray]
    #: Head first, down to the stem.
    steps: tuple[SanityStep, ...]
    seconds: float

    def final(self, method: Method) -> float:
        """Spearman of the fully randomised network's map with the trained map."""
        return self.steps[-1].spearman[method] if self.steps else math.nan

    def passes(self, method: Method) -> bool:
        """Whether the map depends on the learned weights: fully randomised, it no longer ranks like the
        trained map (Spearman below :data:`PASS_BELOW`, or a flat map with no ranking left)."""
        value = self.final(method)
        return math.isnan(value) or value < PASS_BELOW

    def label(self, method: Method) -> str:
        return METHODS[method].label
