"""Typed session values (pages/_shared/state.py): a slot holds one type, says so when misused, and
keeps pins and training runs as data instead of string-keyed dicts."""

from __future__ import annotations

import pytest
import streamlit as st

from explorer.analysis.training import RunState, StepRecord, TrainingRun, TrainSettings
from explorer.views.training import step_text
from pages._shared.state import SIGNAL_PINS, Pins, Slot


@pytest.fixture(autouse=True)
def clean_session():
    st.session_state.clear()
    yield
    st.session_state.clear()


def test_a_slot_keeps_one_type():
    slot = Slot("test.pins", Pins)
    assert slot.get() is None
    slot.set(Pins(["preset=resnet18"]))
    assert slot.get().queries == ["preset=resnet18"]
    with pytest.raises(TypeError, match="must be a Pins, not list"):
        slot.set(["preset=resnet18"])  # type: ignore[arg-type]
    st.session_state["test.pins"] = "oops"
    with pytest.raises(TypeError, match=r"'test\.pins' is a str, not a Pins"):
        slot.get()
    with pytest.raises(KeyError, match="no default"):
        Slot("test.other", Pins).get_or_create()
    slot.set(Pins(["x"]))
    assert slot.pop().queries == ["x"] and slot.get() is None


def test_pins_keep_order_and_never_repeat():
    pins = SIGNAL_PINS.get_or_create()
    pins.add("a")
    pins.add("b")
    pins.add("a")
    assert SIGNAL_PINS.get().queries == ["a", "b"]
    pins.remove("a")
    assert SIGNAL_PINS.get().queries == ["b"]


def test_a_training_run_knows_its_last_record_and_snapshots():
    run = TrainingRun("preset=resnet20", TrainSettings(steps=3), "cpu")
    assert run.last is None and run.snapshots == []
    run.records += [StepRecord(1, 3, 2.0, 0.1, 0.1), StepRecord(2, 3, 1.5, 0.2, 0.2)]
    assert run.last.step == 2 and not run.finished
    assert step_text(run.last) == "step 2: loss 1.500"
    assert run.state is RunState.STOPPED
    run.finished = True
    assert run.state is RunState.FINISHED
    run.records.append(StepRecord(3, 3, float("nan"), 0.0, 0.3))
    assert run.state is RunState.DIVERGED


def test_widgets_are_typed_namespaced_keys():
    from pages._shared.state import Widget, Widgets

    class Page(Widgets, prefix="page"):
        count = Widget[int]()
        renamed = Widget[str]("other")

    assert Page.count.key == "page.count" and Page.renamed.key == "page.other"
    assert Page.count.get() is None and not Page.count.is_set
    assert Page.count.setdefault(3) == 3 and Page.count.value == 3 and st.session_state["page.count"] == 3
    Page.count.set(4)
    assert Page.count.value == 4 and Page.count.pop() == 4 and not Page.count.is_set
    assert Page.renamed.at("a", 1) == "page.other.a.1"
