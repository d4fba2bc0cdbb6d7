"""The answer to a lesson's question, whether a prediction is right, and whether the claim holds:
rules over the measured values of an :class:`Outcome`, nothing else."""

from __future__ import annotations

import math

from explorer.analysis.lessons.model import Lesson, Outcome
from explorer.errors import InputError


# -- answers -----------------------------------------------------------------------------------------
def _value(outcome: Outcome, key: str) -> float:
    if key not in outcome.values:
        raise KeyError(f"the experiment measured no '{key}'; it has: {', '.join(sorted(outcome.values))}")
    return outcome.values[key]


def measured_value(lesson: Lesson, outcome: Outcome) -> float:
    """The single measured value a slider question or a banded choice is about."""
    return _value(outcome, lesson.rule.metric)


def answer(lesson: Lesson, outcome: Outcome) -> str | float:
    """The right answer to the lesson's question, from the measured values."""
    rule, question = lesson.rule, lesson.question
    if question.widget == "slider":
        return measured_value(lesson, outcome)
    if rule.bands:
        value = measured_value(lesson, outcome)
        for option, band in zip(question.options, rule.bands, strict=False):
            if value < band:
                return option
        return question.options[-1]
    scores = {o: _value(outcome, f"{o}.{rule.metric}") for o in question.options}
    best = max if rule.pick == "max" else min
    return best(scores, key=lambda o: scores[o])


def is_right(lesson: Lesson, outcome: Outcome, prediction: str | float) -> bool | None:
    """Whether ``prediction`` is right, judged against the claim's measured outcome.

    A choice is right when it is the measured answer *and* the numbers support the claim (the
    measured answer is then the claim's); when they do not (too few steps, other seeds, other
    hardware), no pick is right or wrong: None. A slider is right within the rule's tolerance of
    the measured value."""
    truth = answer(lesson, outcome)
    if isinstance(truth, str):
        if not claim_holds(lesson, outcome):
            return None
        return prediction == truth
    return abs(float(prediction) - truth) <= lesson.rule.tolerance * abs(truth)


def _compare(lesson: Lesson, outcome: Outcome, condition: str) -> bool:
    """``"<option> <= <option>"`` (or ``>=``, ``<``, ``>``) over the rule's metric."""
    for op in ("<=", ">=", "<", ">"):
        if op in condition:
            left, right = (part.strip() for part in condition.split(op, 1))
            a = _value(outcome, f"{left}.{lesson.rule.metric}")
            b = _value(outcome, f"{right}.{lesson.rule.metric}")
            return {"<=": a <= b, ">=": a >= b, "<": a < b, ">": a > b}[op]
    raise InputError(f"claim condition '{condition}'; allowed: '<option> <= <option>' (or >=, <, >)")


def claim_holds(lesson: Lesson, outcome: Outcome) -> bool:
    """Whether the measured numbers support the lesson's statement (see :class:`Claim`)."""
    claim = lesson.claim
    truth = answer(lesson, outcome)
    if isinstance(truth, str):
        if truth != claim.expect:
            return False
        if not all(_compare(lesson, outcome, condition) for condition in claim.also):
            return False
        if claim.margin and lesson.rule.pick:
            scores = {o: _value(outcome, f"{o}.{lesson.rule.metric}") for o in lesson.question.options}
            ranked = sorted(scores, key=scores.__getitem__, reverse=lesson.rule.pick == "max")
            first, second = ranked[0], ranked[1]
            spread = _value(outcome, f"{first}.{claim.margin}") + _value(outcome, f"{second}.{claim.margin}")
            return abs(scores[first] - scores[second]) > spread
        return True
    low = -math.inf if claim.expect_min is None else claim.expect_min
    high = math.inf if claim.expect_max is None else claim.expect_max
    return low <= truth <= high
