"""One training recipe: a torch-free TrainSettings that the search, its tasks, the lessons and the
commands derive theirs from, one held-out evaluator and one standardisation."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import torch

from explorer.analysis.lessons import LESSONS_DIR, load_lesson
from explorer.analysis.lessons.experiments import EXPERIMENTS, training_settings
from explorer.analysis.recipe import LESSON, SHAPE_CLASSES, SHAPES, TrainSettings, recipe_changes, recipe_params
from explorer.analysis.search import SEARCH, SearchSpec
from explorer.analysis.training import Fresh, TrainSpec, held_out_accuracy, shapes_config, train_on_shapes
from explorer.config import parse_query
from explorer.data.shapes import CLASSES, INPUT_MEAN, INPUT_STD, generate, standardise
from explorer.runtime.device import full_float32

ROOT = Path(__file__).resolve().parents[1]
TINY = "family=plain&depth=4&width=4&resolution=16"


def test_the_recipe_imports_no_torch() -> None:
    code = "import sys, explorer.analysis.recipe, explorer.analysis.search; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_the_recipe_knows_the_shape_classes_without_torch() -> None:
    assert SHAPE_CLASSES == len(CLASSES) == 8


def test_standardise_is_the_documented_formula() -> None:
    images = torch.rand(2, 3, 4, 4)
    assert torch.equal(standardise(images), (images - INPUT_MEAN) / INPUT_STD)
    assert standardise(torch.full((1,), 0.75)).item() == 1.0


def test_a_lesson_derives_its_recipe_and_every_field_is_a_lesson_parameter() -> None:
    lesson = load_lesson(LESSONS_DIR / "02_degradation.toml")
    settings = training_settings(lesson, 2)
    assert settings == dataclasses.replace(LESSON, seed=2, **recipe_changes(lesson.params))
    # what the lesson did not set is the lesson recipe's: as the hand-written list had it
    assert (settings.record_every, settings.momentum, settings.autocast, settings.held_out) == (None, 0.9, False, 0)
    fields = {f.name for f in dataclasses.fields(TrainSettings)} - {"seed", "record_every"}
    assert fields <= set(EXPERIMENTS["training_comparison"].params)
    assert recipe_changes(recipe_params(LESSON)) == {n: getattr(LESSON, n) for n in fields}
    assert recipe_changes({"resolution": 0, "scale": [], "tail": 5}) == {"resolution": None, "scale": None}
    assert recipe_changes({"scale": [1, 1]}) == {"scale": (1.0, 1.0)}


def test_a_search_holds_the_shapes_recipe() -> None:
    assert dataclasses.replace(SHAPES, steps=60, held_out=128) == SEARCH
    spec = SearchSpec(query=TINY, seeds=3, settings=dataclasses.replace(SEARCH, lr=0.01))
    task = spec.task(TINY, 2)
    assert task.seed == 2 and task.settings == dataclasses.replace(spec.settings, seed=2)


def test_the_one_evaluator_scores_a_step_budget_and_a_time_budget_alike() -> None:
    config = parse_query(TINY)
    settings = dataclasses.replace(SHAPES, steps=2, batch=4, held_out=40)
    run = train_on_shapes(TrainSpec(model=Fresh(shapes_config(config, 16)), settings=settings))
    built = run.model.built
    # the accuracy the last step measured, as the evaluator written out by hand
    batch = generate(40, resolution=16, seed=1, rotate=True)
    with full_float32(), torch.no_grad():
        expected = int((built.module.eval()(standardise(batch.images)).argmax(1) == batch.labels).sum()) / 40
    assert run.model.accuracy == expected
    assert held_out_accuracy(built, settings.dataset(16, 3, seed=1), 40, chunk=7) == expected  # chunks: same
    timed = train_on_shapes(
        TrainSpec(
            model=Fresh(shapes_config(config, 16)), settings=dataclasses.replace(settings, steps=None), seconds=1e-9
        )
    )
    assert timed.steps == 1 and timed.model.accuracy is not None and "40 held-out images" in timed.model.weights
