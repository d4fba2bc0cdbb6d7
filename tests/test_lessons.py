"""Lessons (explorer.analysis.lessons): the files load, a malformed one is reported by file and field,
and each lesson's experiment, run now, gives numbers that support its statement (or, where the lesson
says it cannot be shown at this scale, numbers that agree with what it says)."""

from __future__ import annotations

import math
import re
import shutil
from pathlib import Path

import pytest

from explorer.analysis.lessons import (
    EXPERIMENTS,
    LESSONS_DIR,
    Lesson,
    LessonError,
    answer,
    claim_holds,
    is_right,
    load_lesson,
    load_lessons,
    run_lesson,
    separable_ratio,
)

NINE = {
    "01_plain_vs_residual",
    "02_degradation",
    "03_gradient_highway",
    "04_densenet_vs_resnet",
    "05_depthwise_separable",
    "06_mobilenet_multipliers",
    "07_compound_scaling",
    "08_memory_paths",
    "09_accuracy_vs_params",
}


@pytest.fixture(scope="module")
def lessons() -> dict[str, Lesson]:
    found, errors = load_lessons()
    assert errors == []
    return {lesson.name: lesson for lesson in found}


def outcome_of(lessons: dict[str, Lesson], name: str):
    lesson = lessons[name]
    outcome = run_lesson(lesson)
    assert claim_holds(lesson, outcome) == lesson.claim.supported, (name, outcome.values)
    return lesson, outcome


# -- loading -----------------------------------------------------------------------------------------
def test_the_nine_lessons_load_in_order(lessons: dict[str, Lesson]) -> None:
    assert set(lessons) >= NINE
    assert [lesson.order for lesson in lessons.values()] == sorted(lesson.order for lesson in lessons.values())
    kinds = {lesson.kind for lesson in lessons.values()}
    assert kinds == set(EXPERIMENTS) - {"deformable_spread"}
    assert all(lesson.claim_text and lesson.why and lesson.question.text for lesson in lessons.values())


BAD = {
    "missing title": ("title = ", "", "field 'title' is missing"),
    "unknown kind": ('kind = "memory_comparison"', 'kind = "magic"', "field 'experiment.kind' is 'magic'; allowed:"),
    "bad query": ('query = "preset=resnet50"', 'query = "preset=resnet51"', "field 'experiment.configs[0].query'"),
    "wrong type": ("batch = 8", 'batch = "eight"', "field 'experiment.batch' is not"),
    "expect not an option": ('expect = "densenet121"', 'expect = "vgg"', "field 'claim.expect' must be one of"),
    "not toml": ("[question]", "[question", "not valid TOML"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_a_malformed_file_names_the_file_and_the_field(case: str, tmp_path: Path) -> None:
    old, new, message = BAD[case]
    text = (LESSONS_DIR / "08_memory_paths.toml").read_text()
    assert old in text
    text = re.sub(r"^title = .*\n", "", text, flags=re.M) if case == "missing title" else text.replace(old, new, 1)
    bad = tmp_path / "broken.toml"
    bad.write_text(text)
    shutil.copy(LESSONS_DIR / "05_depthwise_separable.toml", tmp_path)
    with pytest.raises(LessonError) as info:
        load_lesson(bad)
    assert str(info.value).startswith("lesson file broken.toml:")
    assert message in str(info.value)
    found, errors = load_lessons(tmp_path)
    assert [lesson.name for lesson in found] == ["05_depthwise_separable"]  # the others still load
    assert len(errors) == 1 and "broken.toml" in str(errors[0])


def test_unknown_parameter_is_named(tmp_path: Path) -> None:
    text = (LESSONS_DIR / "08_memory_paths.toml").read_text().replace("batch = 8", "batch = 8\nsteps = 3")
    (tmp_path / "x.toml").write_text(text)
    with pytest.raises(LessonError, match=r"x.toml: field 'experiment.steps' is not a parameter of memory_comparison"):
        load_lesson(tmp_path / "x.toml")


# -- the claims, measured --------------------------------------------------------------------------
def test_plain_vs_residual(lessons, single_thread) -> None:
    lesson, outcome = outcome_of(lessons, "01_plain_vs_residual")
    v = outcome.values
    assert answer(lesson, outcome) == "plain-56"
    # Plain: the gradient grows by orders of magnitude toward the input, more at 56 than at 30.
    assert v["plain-56.grad_spread"] > 3 > v["plain-30.grad_spread"] > 1.5
    # Residual: within two orders at both depths, and no worse at 56 than at 30.
    assert v["residual-56.grad_spread"] < 2 and v["residual-30.grad_spread"] < 2
    assert v["plain-56.first_grad"] > 100 * v["residual-56.first_grad"]
    assert is_right(lesson, outcome, "plain-56") and not is_right(lesson, outcome, "residual-56")


def test_gradient_highway(lessons, single_thread) -> None:
    lesson, outcome = outcome_of(lessons, "03_gradient_highway")
    v = outcome.values
    assert v["no skips.grad_ratio.growth"] > 1e4
    assert 1 < v["skips.grad_ratio.growth"] < 100
    assert answer(lesson, outcome) == "grows more than 10×"
    ratios = [v[f"plain-{d}.grad_ratio"] for d in (8, 20, 56, 110)]
    assert ratios == sorted(ratios)  # monotone in depth


def test_densenet_vs_resnet(lessons) -> None:
    lesson, outcome = outcome_of(lessons, "04_densenet_vs_resnet")
    v = outcome.values
    assert v["densenet121.params"] == 7_978_856 and v["resnet50.params"] == 25_557_032
    assert v["params_ratio"] == pytest.approx(3.203, abs=1e-3)
    assert v["macs_ratio"] == pytest.approx(1.443, abs=1e-3)
    assert v["densenet121.top1"] == pytest.approx(74.434) and v["resnet50.top1"] == pytest.approx(76.13)
    assert is_right(lesson, outcome, 3.0) and not is_right(lesson, outcome, 1.0)


@pytest.mark.parametrize(("dk", "m", "n"), [(3, 64, 128), (1, 8, 8), (5, 32, 512), (7, 512, 16)])
def test_separable_measured_against_the_formula(dk: int, m: int, n: int) -> None:
    standard, separable = separable_ratio(dk, m, n, side=14)
    assert standard == 14 * 14 * dk * dk * m * n
    assert separable / standard == pytest.approx(1 / n + 1 / dk**2, rel=1e-12)


def test_depthwise_separable(lessons) -> None:
    lesson, outcome = outcome_of(lessons, "05_depthwise_separable")
    assert outcome.values["formula_error"] < 1e-12
    assert answer(lesson, outcome) == pytest.approx(1 / 128 + 1 / 9)
    moved = run_lesson(lesson.with_params(dk=5, n=256))
    assert moved.values["measured_ratio"] == pytest.approx(1 / 256 + 1 / 25)


def test_mobilenet_multipliers(lessons) -> None:
    _lesson, outcome = outcome_of(lessons, "06_mobilenet_multipliers")
    v = outcome.values
    assert v["a0.5_r128.macs_ratio"] == pytest.approx(v["a0.5_r128.predicted"], rel=0.1)
    assert v["a0.5_r128.predicted"] == pytest.approx(0.25 * (128 / 224) ** 2)
    assert v["worst_vs_predicted"] < 0.2  # alpha^2 rho^2 within 20 % over the whole 4x4 grid
    assert all(v[f"a{a:g}_r224.vs_predicted"] > 1 for a in (0.75, 0.5, 0.25))  # the stem keeps 3 input channels


def test_compound_scaling(lessons) -> None:
    _lesson, outcome = outcome_of(lessons, "07_compound_scaling")
    v = outcome.values
    assert 6 < v["phi3.macs_ratio"] < 10
    assert v["phi1.vs_nominal"] > 1.1  # rounding moves the first step most
    ratios = [v[f"phi{p}.macs_ratio"] for p in range(4)]
    assert ratios == sorted(ratios)


def test_memory_paths(lessons) -> None:
    lesson, outcome = outcome_of(lessons, "08_memory_paths")
    v = outcome.values
    assert answer(lesson, outcome) == "densenet121"
    assert v["densenet121.saved_bytes"] > 1.4 * v["resnet50.saved_bytes"]
    assert v["densenet121.params"] < v["resnet50.params"] / 3
    # The skips cost only their projection shortcuts (within 10 % of the plain net).
    assert v["resnet50.saved_bytes"] == pytest.approx(v["resnet50 without skips.saved_bytes"], rel=0.1)


def test_accuracy_vs_params(lessons) -> None:
    _lesson, outcome = outcome_of(lessons, "09_accuracy_vs_params")
    v = outcome.values
    assert v["efficientnet_b0.top1"] > v["vgg16.top1"]
    assert v["vgg16.params"] > 25 * v["efficientnet_b0.params"]
    assert len(outcome.panels[0].series[0].x) >= 20


@pytest.mark.slow
def test_degradation_shown_in_a_class_budget(lessons, single_thread) -> None:
    """The lesson's own recipe (16 px upright shapes, Adam 1e-3, batch 32, 100 steps, seeds 0-2):
    plain-56 ends above plain-20 by more than twice the seeds' spread, residual-56 at or below
    plain-20. Measured here (one thread): plain-20 1.949 ± 0.026, plain-56 2.081 ± 0.004 (chance,
    ln 8 = 2.079), residual-56 1.349 ± 0.052."""
    lesson, outcome = outcome_of(lessons, "02_degradation")
    v = outcome.values
    assert lesson.claim.supported and claim_holds(lesson, outcome)
    assert answer(lesson, outcome) == "plain-56"
    p20, p56, r56 = (v[f"{k}.final_loss"] for k in ("plain-20", "plain-56", "residual-56"))
    spread = max(v[f"{k}.final_loss_spread"] for k in ("plain-20", "plain-56"))
    assert p56 - p20 > 2 * spread
    assert r56 <= p20
    assert p56 == pytest.approx(math.log(8), abs=0.02)  # the deep plain net is still at chance
    assert p20 < math.log(8) - 0.08 and r56 < 1.5  # the other two have learned
    assert is_right(lesson, outcome, "plain-56") is True
    assert is_right(lesson, outcome, "residual-56") is False


def test_a_run_that_does_not_show_the_claim_judges_no_pick(lessons) -> None:
    """A budget too short to show degradation (2 steps): the measured 'highest' is not the claim's
    outcome, so neither pick is called right."""
    lesson = lessons["02_degradation"].with_params(steps=2, seeds=[0, 1], tail=1)
    from dataclasses import replace

    small = tuple(replace(c, query=c.query.replace("depth=56", "depth=8")) for c in lesson.configs)
    lesson = replace(lesson, configs=small)
    outcome = run_lesson(lesson)
    assert not claim_holds(lesson, outcome)
    assert is_right(lesson, outcome, "plain-56") is None and is_right(lesson, outcome, "residual-56") is None


@pytest.mark.slow
def test_deformable_spread_kind(tmp_path: Path, single_thread) -> None:
    text = """
title = "spread"
statement = "Trained offsets move the sampling points off the grid."
why = "The offsets are learned."
[experiment]
kind = "deformable_spread"
steps = {steps}
resolution = 32
[[experiment.configs]]
label = "deformable"
query = "family=plain&depth=6&width=8&deform=on&resolution=32"
[question]
text = "More spread than the grid?"
widget = "choice"
options = ["no", "yes"]
[answer]
metric = "spread_ratio"
bands = [1.0]
[claim]
expect = "yes"
"""
    (tmp_path / "zero.toml").write_text(text.replace("{steps}", "0"))
    (tmp_path / "some.toml").write_text(text.replace("{steps}", "8"))
    zero, some = load_lesson(tmp_path / "zero.toml"), load_lesson(tmp_path / "some.toml")
    untrained = run_lesson(zero)
    assert untrained.values["mean_offset"] == 0 and untrained.values["spread_ratio"] == 1.0
    trained = run_lesson(some)
    assert trained.values["mean_offset"] > 0 and trained.values["spread_ratio"] != 1.0


def test_training_work_goes_through_the_size_guard(lessons, monkeypatch: pytest.MonkeyPatch) -> None:
    from explorer.runtime.guard import TooLargeError

    monkeypatch.setenv("EXPLORER_MEMORY_BUDGET_MB", "1")
    with pytest.raises(TooLargeError, match="saved for backward"):
        run_lesson(lessons["01_plain_vs_residual"])


def test_effective_receptive_field(lessons, single_thread) -> None:
    """Luo et al.: four times the layers, about twice the effective radius, 3.8 times the theoretical side."""
    lesson, outcome = outcome_of(lessons, "10_effective_receptive_field")
    assert outcome.values["theoretical_growth"] == pytest.approx(65 / 17)
    assert 1.6 <= answer(lesson, outcome) <= 2.5
    assert outcome.values["32 layers.share"] < outcome.values["8 layers.share"]
    assert not is_right(lesson, outcome, 3.8)  # the theoretical growth is the wrong prediction


def test_deformable_field(lessons, single_thread) -> None:
    """The shipped deformable ResNet-8's field follows the shape's size; the plain one's does not."""
    lesson, outcome = outcome_of(lessons, "11_deformable_field")
    assert answer(lesson, outcome) == "deformable ResNet-8"
    assert outcome.values["deformable ResNet-8.size_corr"] > 0.3 > abs(outcome.values["plain ResNet-8.size_corr"])
    assert outcome.values["deformable ResNet-8.rms_radius"] > 1.3 * outcome.values["plain ResNet-8.rms_radius"]
