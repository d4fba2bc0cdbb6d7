"""The saliency views in words and pictures: the verdict follows the numbers, the strip has a tile per map."""

from __future__ import annotations

import math

import numpy as np

from explorer.analysis.curves import RANDOM, Curve, CurvePair
from explorer.analysis.methods import Method
from explorer.analysis.sanity_data import SanityCheck, SanityStep
from explorer.views.saliency_methods import TILE, curves_rows, sanity_rows, sanity_strip, sanity_verdict

METHODS = (Method.GRADCAM, Method.GUIDED_BACKPROP)


def check(finals: dict[Method, float], first: dict[Method, float]) -> SanityCheck:
    maps = {m: np.random.default_rng(0).random((8, 8)) for m in METHODS}
    steps = (
        SanityStep("head", ("fc",), maps, first),
        SanityStep("stem", ("conv1", "bn1"), maps, finals),
    )
    return SanityCheck(0, "layer3", METHODS, maps, steps, 0.1)


def test_the_verdict_follows_the_final_correlation():
    result = check(
        {Method.GRADCAM: 0.1, Method.GUIDED_BACKPROP: 0.62}, {Method.GRADCAM: 0.3, Method.GUIDED_BACKPROP: 0.9}
    )
    grad_cam, guided = sanity_verdict(result)
    assert grad_cam.startswith("**Grad-CAM passes**") and "ρ = +0.10" in grad_cam and "hardly changed" not in grad_cam
    assert guided.startswith("**Guided Backprop fails**") and "ρ = +0.62, at least 0.5" in guided
    assert "With the head (the class weights) randomised it hardly changed (ρ = +0.90)" in guided
    flat = check(
        {Method.GRADCAM: math.nan, Method.GUIDED_BACKPROP: 0.2}, {Method.GRADCAM: 0.0, Method.GUIDED_BACKPROP: 0.0}
    )
    lines = sanity_verdict(flat, relu_modules=False)
    assert "the randomised network's map is flat" in lines[0]
    assert "no `nn.ReLU` modules" in lines[-1]
    assert sanity_rows(flat)[1] == {
        "randomised down to": "stem",
        "modules": "conv1+bn1",
        "Grad-CAM": None,
        "Guided Backprop": 0.2,
    }


def test_the_strip_has_a_row_per_method_and_a_column_per_step():
    result = check({m: 0.0 for m in METHODS}, {m: 0.5 for m in METHODS})
    image = np.zeros((8, 8, 3), np.uint8)
    strip = sanity_strip(result, image)
    assert strip.dtype == np.uint8 and strip.shape[2] == 3
    assert strip.shape[1] > 3 * TILE and strip.shape[0] > 2 * TILE  # 3 columns (trained + 2 steps), 2 rows


def test_curve_areas_in_rows():
    curve = Curve((0.0, 0.5, 1.0), (1.0, 0.5, 0.0))
    assert curve.auc == 0.5
    rows = curves_rows([CurvePair("Grad-CAM", curve, curve), CurvePair(RANDOM, curve, curve)])
    assert [r["map"] for r in rows] == ["Grad-CAM", RANDOM]
