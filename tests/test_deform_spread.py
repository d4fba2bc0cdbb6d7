"""Does deformable sampling adapt to geometry? The spread study (analysis.deform_spread.spread_against_size)
and its rank correlation, on the shipped deformable models and on zero offsets."""

from __future__ import annotations

import math

import numpy as np
import pytest

from explorer.analysis.deform import untrained_copy
from explorer.analysis.deform_spread import SPREAD_IMAGES, spearman, spread_against_size
from explorer.runtime.shipped import load_shipped, shipped_deformable


def test_spearman_matches_hand_computed_ranks():
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 2, 3, 4, 5], [2, 1, 4, 3, 5]) == pytest.approx(0.8)  # 1 - 6*4/(5*24)
    # Ties take their mean rank: ranks (1.5, 1.5, 3) and (1, 2, 3): Pearson of the ranks.
    assert spearman([1, 1, 2], [1, 2, 3]) == pytest.approx(np.corrcoef([1.5, 1.5, 3], [1, 2, 3])[0, 1])
    assert math.isnan(spearman([1, 1, 1], [1, 2, 3]))
    with pytest.raises(ValueError):
        spearman([1], [2])


@pytest.mark.parametrize("modulated", [False, True])
def test_the_shipped_deformable_models_measure_a_spread_per_shape(modulated, single_thread):
    shipped = shipped_deformable(modulated)
    assert shipped is not None and shipped.modulated == modulated
    model = load_shipped(shipped)
    study = spread_against_size(model.built, n=40)
    assert study.n == 40 and np.isfinite(study.spreads).all()
    assert study.sizes.min() > 0 and np.std(study.spreads) > 0  # learned offsets: spreads differ per shape
    assert study.rho == pytest.approx(spearman(study.sizes, study.spreads))
    # Zero offsets: every location samples the regular grid, whatever the object.
    zero = spread_against_size(untrained_copy(model.built), n=10)
    np.testing.assert_allclose(zero.spreads, zero.regular_spread, rtol=1e-6)
    assert math.isnan(zero.rho)


def test_the_shipped_deformable_model_spreads_wider_on_bigger_objects(single_thread):
    """The deformable lesson's headline (the offsets adapt to the object), as the Deformable page
    measures it (the page's default layer, 200 held-out shapes): the sampling points' spread rises
    with the object's size, Spearman rho >= 0.5."""
    model = load_shipped(shipped_deformable())
    study = spread_against_size(model.built, n=SPREAD_IMAGES)
    assert study.rho >= 0.5, study.rho
