"""Deletion and insertion curves as plain data (no torch): fractions, probabilities, areas; read by the views.
:mod:`explorer.analysis.faithfulness` measures them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["RANDOM", "Curve", "CurvePair"]

#: The label of the random map's curves.
RANDOM = "Random map"


@dataclass(frozen=True)
class Curve:
    #: Fraction of pixels removed (deletion) or revealed (insertion), 0 to 1.
    fractions: tuple[float, ...]
    #: The target class's softmax probability at each fraction.
    probabilities: tuple[float, ...]

    @property
    def auc(self) -> float:
        """Area under the curve over fractions 0 to 1 (trapezoids)."""
        x, y = np.asarray(self.fractions), np.asarray(self.probabilities)
        return float(((y[1:] + y[:-1]) * np.diff(x)).sum() / 2)


@dataclass(frozen=True)
class CurvePair:
    label: str
    deletion: Curve
    insertion: Curve
