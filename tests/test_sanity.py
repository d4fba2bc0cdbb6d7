"""The sanity check (cascading randomisation, Adebayo et al.) and the deletion/insertion curves (Petsiuk et al.)
on a shipped, trained model: values, not just shapes."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from explorer.analysis.attribution import Method, attribute, model_input
from explorer.analysis.faithfulness import RANDOM, curves, deletion_insertion, random_map
from explorer.analysis.sanity import cascading_randomization, randomize_, rank_average, spearman
from explorer.data.samples import shape_image
from explorer.runtime.shipped import load_shipped, shipped_models

pytestmark = pytest.mark.filterwarnings("ignore:Setting backward hooks on ReLU")
IMAGES = range(8)


@pytest.fixture(scope="module")
def shipped(single_thread):
    """The shipped ResNet-8 (trained on shapes: 96% held out)."""
    return load_shipped(next(s for s in shipped_models() if s.name == "resnet8-cifar"), "cpu")


@pytest.fixture(scope="module")
def checks(shipped):
    """The sanity check of Grad-CAM, gradients and Guided Backprop on eight generated shapes."""
    side = shipped.config.input_resolution
    return [cascading_randomization(shipped.built, model_input(shipped, shape_image(i, side))) for i in IMAGES]


def test_spearman_ranks_ties_by_their_average_and_ignores_monotone_changes():
    assert rank_average(np.array([10.0, 20.0, 20.0, 30.0])).tolist() == [0.0, 1.5, 1.5, 3.0]
    values = np.random.default_rng(0).normal(size=(16, 16))
    assert spearman(values, np.exp(values)) == pytest.approx(1.0, abs=1e-12)
    assert spearman(values, -(values**3)) == pytest.approx(-1.0, abs=1e-12)
    other = np.random.default_rng(1).normal(size=(16, 16))
    ranks = [np.argsort(np.argsort(v.ravel())) for v in (values, other)]  # no ties: plain ranks
    assert spearman(values, other) == pytest.approx(np.corrcoef(*ranks)[0, 1], abs=1e-12)
    assert math.isnan(spearman(values, np.zeros_like(values)))


def test_randomisation_goes_head_to_stem_on_a_private_copy(shipped, checks):
    model = shipped.built.module
    before = {k: v.clone() for k, v in model.state_dict().items()}
    check = checks[0]
    assert [s.stage for s in check.steps] == ["head", "stage3", "stage2", "stage1", "stem"]
    assert [s.randomized for s in check.steps] == ["fc", "layer3", "layer2", "layer1", "conv1+bn1"]
    again = cascading_randomization(shipped.built, model_input(shipped, shape_image(0, 64)))
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # the shared model untouched
    for step, repeat in zip(check.steps, again.steps, strict=True):  # seeded: the same check twice
        assert step.spearman == repeat.spearman
    # the trained map is the model's own map, computed on the copy before any randomisation
    direct = attribute(shipped.built, model_input(shipped, shape_image(0, 64)), Method.GRADCAM, check.target)
    np.testing.assert_allclose(check.trained[Method.GRADCAM], direct.heatmap, rtol=1e-5, atol=1e-7)


def test_randomize_redraws_every_parameter_from_the_seed(shipped):
    import copy

    first, second = copy.deepcopy(shipped.built.module), copy.deepcopy(shipped.built.module)
    randomize_(first.layer1, torch.Generator().manual_seed(3))
    randomize_(second.layer1, torch.Generator().manual_seed(3))
    trained = dict(shipped.built.module.named_parameters())
    for name, parameter in first.layer1.named_parameters():
        assert torch.equal(parameter, dict(second.layer1.named_parameters())[name])
        full = f"layer1.{name}"
        if parameter.dim() > 1:  # conv weights: a fresh Kaiming-uniform draw
            assert not torch.equal(parameter, trained[full])
            fan_in = parameter[0].numel()
            assert parameter.abs().max() <= 1 / math.sqrt(fan_in) + 1e-6  # PyTorch's default bound
    norms = [m for m in first.layer1.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert norms and all(torch.equal(m.running_var, torch.ones_like(m.running_var)) for m in norms)


def test_fully_randomised_grad_cam_no_longer_ranks_like_the_trained_one(checks):
    """Adebayo et al.'s check on our trained ResNet-8: once every layer is re-initialised the Grad-CAM map
    keeps no rank order of the trained one (a flat map keeps none: counted as 0)."""
    finals = [c.final(Method.GRADCAM) for c in checks]
    finals = [0.0 if math.isnan(r) else r for r in finals]
    assert np.mean(finals) < 0.5
    assert sum(r < 0.5 for r in finals) >= 6


def test_guided_backprop_survives_the_top_layers_randomisation_grad_cam_does_not(checks):
    """The paper's finding: with the head (the class weights) re-initialised, Guided Backprop still draws
    nearly the trained map, Grad-CAM does not; Guided Backprop only lets go as the early layers go."""
    after_head = {m: np.mean([c.steps[0].spearman[m] for c in checks]) for m in checks[0].methods}
    assert after_head[Method.GUIDED_BACKPROP] > 0.7
    assert after_head[Method.GRADCAM] < 0.5
    assert after_head[Method.GUIDED_BACKPROP] > after_head[Method.GRADIENTS] > after_head[Method.GRADCAM]
    fully = np.mean([c.final(Method.GUIDED_BACKPROP) for c in checks])
    assert fully < after_head[Method.GUIDED_BACKPROP] - 0.3


def test_deletion_and_insertion_curves_end_where_the_images_say(shipped):
    image = model_input(shipped, shape_image(21, 200, "star"))
    cam = attribute(shipped.built, image, Method.GRADCAM)
    deletion, insertion = deletion_insertion(shipped.built, image, cam.heatmap, cam.target, steps=10)
    model = shipped.built.module.eval()
    with torch.no_grad():
        full = float(torch.softmax(model(image), 1)[0, cam.target])
        empty = float(torch.softmax(model(torch.zeros_like(image)), 1)[0, cam.target])
    assert deletion.fractions == insertion.fractions == tuple(i / 10 for i in range(11))
    assert deletion.probabilities[0] == pytest.approx(full, rel=1e-5)
    assert deletion.probabilities[-1] == pytest.approx(empty, rel=1e-5)
    assert insertion.probabilities[-1] == pytest.approx(full, rel=1e-5)
    assert deletion.auc == pytest.approx(np.trapezoid(deletion.probabilities, deletion.fractions))


def test_revealing_the_maps_top_pixels_first_beats_a_random_map(shipped):
    """Faithfulness on the trained model: inserting the pixels Grad-CAM or the gradients rank first brings the
    class's probability back faster than inserting them in random order (a larger insertion area). (Deletion
    does not separate them on this model: a few per cent of grey pixels anywhere already break its answer.)"""
    side = shipped.config.input_resolution
    areas: dict[str, list[float]] = {}
    for index in IMAGES:
        image = model_input(shipped, shape_image(index, side))
        cam, gradients = (attribute(shipped.built, image, m) for m in (Method.GRADCAM, Method.GRADIENTS))
        maps = {"Grad-CAM": cam.heatmap, "Gradients": gradients.heatmap}
        for pair in curves(shipped.built, image, maps, cam.target, steps=10):
            areas.setdefault(pair.label, []).append(pair.insertion.auc)
    assert list(areas) == ["Grad-CAM", "Gradients", RANDOM]
    assert np.mean(areas["Grad-CAM"]) > np.mean(areas[RANDOM]) + 0.1
    assert np.mean(areas["Gradients"]) > np.mean(areas[RANDOM]) + 0.1
    assert random_map(side, side, seed=1).shape == (side, side)


def test_the_lesson_guided_backprop_survives_the_class_weights(single_thread):
    """Lesson 12 (``assets/lessons/12_saliency_sanity.toml``) run now: its numbers support its statement."""
    from explorer.analysis.lessons import answer, claim_holds, is_right, load_lessons, run_lesson

    found, errors = load_lessons()
    assert errors == []
    lesson = next(x for x in found if x.name == "12_saliency_sanity")
    outcome = run_lesson(lesson.with_params(images=4))
    assert answer(lesson, outcome) == "Guided Backprop" and claim_holds(lesson, outcome)
    assert is_right(lesson, outcome, "Guided Backprop") and not is_right(lesson, outcome, "Grad-CAM")
    assert outcome.values["Guided Backprop.after_head"] > 0.7 > outcome.values["Grad-CAM.after_head"]
    assert outcome.values["Guided Backprop.final"] < 0.5  # fully randomised, it lets go too
    assert [row["randomised down to"] for row in outcome.table] == ["head", "stage3", "stage2", "stage1", "stem"]
