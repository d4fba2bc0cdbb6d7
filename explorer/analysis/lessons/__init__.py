"""Lessons: a claim of CNN design, a question to predict, an experiment that measures the answer live.

A lesson is data, a TOML file in ``assets/lessons/`` (see ``assets/lessons/README.md`` for the format);
:func:`load_lessons` reads them all and reports a malformed file as a :class:`LessonError` naming the
file and the field, without stopping the others. The experiment names one of the fixed
:data:`EXPERIMENTS` (signal comparison, training comparison, profile comparison, scaling sweep,
deformable spread, memory comparison); :func:`run_lesson` runs it and returns an :class:`Outcome`:
named measured values, plot panels and a table. Nothing is canned: every number comes from the
library at the moment of the run.

The question's answer is a rule over the measured values (:func:`answer`): for a choice, the option
whose ``metric`` is largest or smallest (``pick``) or the band a value falls in (``bands``); for a
slider, the measured value itself, and a prediction is right within ``tolerance`` (relative).
The claim (:func:`claim_holds`) is what the lesson's statement says the answer should be; when the
measurement does not support it at this scale, the lesson file says so (``supported = false`` and a
note with the numbers) and the page shows the measured numbers beside the note.
"""

from explorer.analysis.lessons.answers import answer, claim_holds, is_right, measured_value
from explorer.analysis.lessons.costs import separable_ratio
from explorer.analysis.lessons.experiments import EXPERIMENTS, run_lesson
from explorer.analysis.lessons.files import lessons_dir, load_lesson, load_lessons
from explorer.analysis.lessons.model import (
    LESSONS_DIR,
    LESSONS_ENV,
    Lesson,
    LessonError,
    Outcome,
    Panel,
    Series,
)

__all__ = [
    "EXPERIMENTS",
    "LESSONS_DIR",
    "LESSONS_ENV",
    "Lesson",
    "LessonError",
    "Outcome",
    "Panel",
    "Series",
    "answer",
    "claim_holds",
    "is_right",
    "lessons_dir",
    "load_lesson",
    "load_lessons",
    "measured_value",
    "run_lesson",
    "separable_ratio",
]
