"""Short training runs: streamed per step, reproducible, stoppable, never touching the model given."""

from __future__ import annotations

import dataclasses
import itertools
import math

import pytest
import torch
from torch import nn

from explorer.analysis.training import Copied, Fresh, Owned, StepRecord, TrainSettings, TrainSpec, private_copy, train
from explorer.config import parse_query
from explorer.runtime.models import build_seeded

TINY = "family=plain&depth=6&width=4&resolution=16&classes=8"


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_records_stream_with_signal_snapshots_at_record_steps():
    config = parse_query(TINY)
    settings = TrainSettings(steps=7, batch=4, record_every=3, optimizer="adam", lr=1e-3)
    records = list(train(TrainSpec(model=Fresh(config), settings=settings)))
    assert [r.step for r in records] == list(range(1, 8))
    assert all(isinstance(r, StepRecord) and math.isfinite(r.loss) and 0 <= r.accuracy <= 1 for r in records)
    assert [r.step for r in records if r.signal is not None] == [1, 3, 6, 7]
    snapshot = records[2].signal
    assert len(snapshot.points) == 7 and snapshot.loss == pytest.approx(records[2].loss)
    assert all(p.weight_grad_norm is not None and p.weight_grad_norm > 0 for p in snapshot.points)
    assert records[-1].fraction == 1.0 and records[0].elapsed_s <= records[-1].elapsed_s


def test_training_never_touches_the_model_given_and_is_reproducible():
    config = parse_query(TINY)
    built = build_seeded(config, seed=0)
    built.module.eval()
    before = {k: v.clone() for k, v in built.module.state_dict().items()}
    settings = TrainSettings(steps=4, batch=4, record_every=2, lr=0.05)
    first = [r.loss for r in train(TrainSpec(model=Copied(built), settings=settings))]
    second = [r.loss for r in train(TrainSpec(model=Copied(built), settings=settings))]
    assert first == second
    assert first[0] != first[-1]  # it did train (its copy)
    after = built.module.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert not built.module.training and all(p.grad is None for p in built.module.parameters())
    assert all(not m._forward_hooks for m in built.module.modules())


def test_training_runs_on_the_device_and_matches_the_cpu(device):
    config = parse_query(TINY)
    settings = TrainSettings(steps=3, batch=4, seed=1, record_every=3, optimizer="adam", lr=1e-3)
    records = list(train(TrainSpec(model=Fresh(config), settings=settings, device=device)))
    cpu = list(train(TrainSpec(model=Fresh(config), settings=settings, device="cpu")))
    assert [r.loss for r in records] == pytest.approx([r.loss for r in cpu], rel=1e-4)
    assert records[-1].signal is not None and len(records[-1].signal.points) == 7


def test_bf16_autocast_trains_and_stays_finite(device):
    config = parse_query(TINY)
    settings = TrainSettings(steps=3, batch=4, optimizer="adam", lr=1e-3, autocast=True, record_every=2)
    records = list(train(TrainSpec(model=Fresh(config), settings=settings, device=device)))
    assert [r.step for r in records] == [1, 2, 3] and all(math.isfinite(r.loss) for r in records)
    full_settings = TrainSettings(steps=3, batch=4, optimizer="adam", lr=1e-3)
    full = [r.loss for r in train(TrainSpec(model=Fresh(config), settings=full_settings, device=device))]
    assert records[0].loss == pytest.approx(full[0], rel=0.05)  # the same start, at bf16's precision


def test_a_copy_trains_the_same_as_a_fresh_build():
    config = parse_query(TINY)
    settings = TrainSettings(steps=3, batch=4, seed=2)
    fresh = [r.loss for r in train(TrainSpec(model=Fresh(config), settings=settings))]
    copied = [r.loss for r in train(TrainSpec(model=Copied(build_seeded(config, seed=2)), settings=settings))]
    owned = build_seeded(config, seed=2)
    run = train(TrainSpec(model=Owned(owned), settings=settings))
    assert [r.loss for r in run] == fresh == copied
    assert run.model is owned  # trained in place


def test_stopping_early_is_just_not_iterating():
    config = parse_query(TINY)
    run = train(TrainSpec(model=Fresh(config), settings=TrainSettings(steps=1000, batch=4)))
    taken = list(itertools.islice(run, 2))
    run.close()
    assert [r.step for r in taken] == [1, 2] and taken[-1].fraction == 2 / 1000


def test_divergence_stops_the_run_after_the_bad_step():
    config = parse_query("family=plain&depth=6&width=4&resolution=16&classes=8&bn=off")
    built = build_seeded(config)
    with torch.no_grad():
        for m in built.module.modules():
            if isinstance(m, nn.Conv2d):
                m.weight.mul_(1e7)  # six layers of x1e7 gain: the logits overflow float32
    records = list(train(TrainSpec(model=Owned(built), settings=TrainSettings(steps=20, batch=4))))
    assert records[-1].diverged and len(records) == 1
    assert records[0].signal is not None and records[0].signal.problems


@pytest.mark.parametrize(
    "options",
    [{"optimizer": "rmsprop"}, {"lr": 0.0}, {"lr": float("nan")}, {"steps": 0}, {"batch": 1}, {"record_every": 0}],
)
def test_bad_settings(options):
    with pytest.raises(ValueError):
        TrainSettings(**options)


def test_a_warm_start_trains_at_the_start_models_side_unless_told_and_leaves_it_alone():
    """A shipped model refined from ``start`` is trained, measured and labelled at one side: its own
    (64 px here, above the CIFAR config's 32) by default, or the one asked for."""
    from explorer.analysis.training import shapes_settings, shapes_source, train_on_shapes
    from explorer.runtime.shipped import load_shipped

    start = load_shipped("resnet8-cifar")
    before = {k: v.clone() for k, v in start.built.module.state_dict().items()}
    config = parse_query("family=resnet&stem=cifar&depth=8&width=16")
    assert config.input_resolution == 32 and start.built.config.input_resolution == 64
    settings = shapes_settings(True, steps=1, batch=4, lr=1e-4, held_out=64)
    run = train_on_shapes(TrainSpec(model=shapes_source(config, start=start), settings=settings))
    assert run.side == 64 and run.model.built.config.input_resolution == 64
    assert "at 64 px" in run.model.weights and "starting from the shipped model 'resnet8-cifar'" in run.model.weights
    assert run.model.accuracy >= 0.8  # measured at the side it was trained on, where it is good
    unmeasured = dataclasses.replace(settings, held_out=0)
    asked = train_on_shapes(TrainSpec(model=shapes_source(config, 48, start), settings=unmeasured))
    assert asked.model.accuracy is None
    assert asked.side == 48 and asked.model.built.config.input_resolution == 48
    assert all(torch.equal(v, before[k]) for k, v in start.built.module.state_dict().items())


# -- the spec ---------------------------------------------------------------------------------------
def test_a_spec_has_exactly_one_model_source():
    config = parse_query(TINY)
    with pytest.raises(TypeError, match=f"a Fresh, Owned or Copied source, not {type(config).__name__}"):
        TrainSpec(model=config)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not BuiltModel"):
        TrainSpec(model=build_seeded(config))  # type: ignore[arg-type]
    built = build_seeded(config)
    assert TrainSpec(model=Owned(built)).config is built.config
    resized = dataclasses.replace(config, resolution=24)
    assert TrainSpec(model=Copied(built, resized)).config.input_resolution == 24
    assert TrainSpec(model=Fresh(config)).config == config


def test_a_spec_needs_a_budget_and_none_means_no_limit():
    config = parse_query(TINY)
    with pytest.raises(ValueError, match="a budget is needed"):
        TrainSpec(model=Fresh(config), settings=TrainSettings(steps=None))
    with pytest.raises(ValueError, match="time budget 0 s"):
        TrainSpec(model=Fresh(config), seconds=0)
    with pytest.raises(ValueError, match="schedule 'cosine' needs a number of steps"):
        TrainSettings(steps=None, schedule="cosine")
    # a time budget alone: the run ends after the first step that reaches it, with no step count
    records = list(train(TrainSpec(model=Fresh(config), settings=TrainSettings(steps=None, batch=4), seconds=1e-9)))
    assert [r.step for r in records] == [1] and records[0].steps is None and records[0].fraction == 0.0
    # both: whichever ends first
    both = TrainSpec(model=Fresh(config), settings=TrainSettings(steps=3, batch=4), seconds=3600)
    assert [r.step for r in train(both)] == [1, 2, 3]


def test_callbacks_see_every_record_before_it_is_yielded():
    config = parse_query(TINY)
    seen: list[int] = []
    settings = TrainSettings(steps=3, batch=4)
    spec = TrainSpec(model=Fresh(config), settings=settings, callbacks=[lambda r: seen.append(r.step)])
    assert isinstance(spec.callbacks, tuple)  # a frozen spec keeps a tuple, whatever it was given
    steps = []
    for record in train(spec):
        assert seen[-1] == record.step
        steps.append(record.step)
    assert seen == steps == [1, 2, 3]


def test_a_private_copy_is_taken_under_the_models_lock():
    from explorer.measure.hooks import model_lock

    built = build_seeded(parse_query(TINY))
    with model_lock(built.module):  # re-entrant: the holder may copy
        copied = private_copy(built)
    assert copied.module is not built.module and copied.config is built.config
    assert all(torch.equal(a, b) for a, b in zip(copied.module.parameters(), built.module.parameters(), strict=True))


def test_a_diverging_run_to_the_end_raises():
    from explorer.analysis.training import train_on_shapes

    config = parse_query("family=plain&depth=6&width=4&resolution=16&classes=8&bn=off")
    built = build_seeded(config)
    with torch.no_grad():
        for m in built.module.modules():
            if isinstance(m, nn.Conv2d):
                m.weight.mul_(1e7)
    with pytest.raises(ValueError, match="training diverged at step 1"):
        train_on_shapes(TrainSpec(model=Owned(built), settings=TrainSettings(steps=5, batch=4)))
