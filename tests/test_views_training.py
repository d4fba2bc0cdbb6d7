"""Training's words live in explorer/views/training.py: the analysis returns data (a TeachingChoice,
a run's RunState), the view says it."""

from __future__ import annotations

from explorer.analysis.training import TEACHING, RunState, StepRecord, TrainingRun, teaching_model
from explorer.config import parse_query
from explorer.views.training import from_scratch_note, run_summary, step_text, swap_note


def test_a_big_config_is_swapped_for_its_familys_small_net_and_the_view_says_why():
    big = teaching_model(parse_query("preset=resnet18"), lambda c: 37_000_000)
    assert big.swapped and big.family_net and big.config == parse_query(big.small_query + "&resolution=16")
    assert swap_note(big) == (
        "`preset=resnet18` needs 37 M MACs a picture at 32 px, too slow to learn live on a CPU: this trains "
        "its family's small net, `family=resnet&stem=cifar&depth=8&width=16&classes=8`, instead."
    )
    other = teaching_model(parse_query("preset=mobilenet_v2"), lambda c: 10_000_000)
    assert not other.family_net and "ResNet-8 (no small net of this family here)" in swap_note(other)
    small = teaching_model(parse_query("family=plain&depth=4&width=4"), lambda c: 100_000)
    assert not small.swapped and small.config.classes == 8 and small.config.input_resolution == 16
    assert swap_note(small) == ""
    note = from_scratch_note(16, 4096, 64, 512)
    assert note.startswith("Fresh weights, the teaching recipe: upright shapes at 16 px, 4,096 pictures")


def test_a_runs_state_picks_its_sentence():
    run = TrainingRun("family=plain&depth=4", TEACHING, "cpu")
    run.records += [StepRecord(1, 200, 2.0, 0.1, 0.1), StepRecord(2, 200, 1.5, 0.2, 0.2)]
    assert run.state is RunState.STOPPED and run_summary(run) == "Stopped at step 2 of 200."
    run.records.append(StepRecord(200, 200, 0.25, 0.9, 5.25, held_out_accuracy=0.955))
    run.finished = True
    assert run_summary(run) == (
        "Trained 200 steps in 5.2 s on cpu: loss 2 → 0.25; 96% right on 512 held-out pictures (chance 12 %)."
    )
    run.records.append(StepRecord(201, 200, float("inf"), 0.0, 5.3))
    assert run.state is RunState.DIVERGED and run_summary(run).startswith("The loss became inf at step 201")
    assert step_text(run.records[0]) == "step 1: loss 2.000"
