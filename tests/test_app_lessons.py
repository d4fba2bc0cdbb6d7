"""The Lessons page through AppTest: predict, run, reveal; the tally; presenter mode; a bad lesson file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from explorer.analysis.lessons import LESSONS_DIR, LESSONS_ENV
from explorer.analysis.runs import RUNS_ENV

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def open_lesson(name: str, **query: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.switch_page("pages/lessons.py")
    at.query_params["lesson"] = name
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, at.exception
    return at


def markdown(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


def page_links(at: AppTest) -> dict[str, str]:
    """Label -> query string of every page link on the page."""
    return {link.proto.label: link.proto.query_string for link in at.get("page_link")}


def test_predict_run_reveal_and_tally():
    at = open_lesson("08_memory_paths")
    assert at.title[0].value == "The memory cost of residual and dense paths"
    assert at.button(key="lessons.run").disabled  # predict first
    assert not at.get("plotly_chart")

    at.radio(key="lessons.predict.08_memory_paths").set_value("resnet50").run()
    at.button(key="lessons.run").click().run()
    assert not at.exception, at.exception
    revealed = " ".join(i.value for i in at.info)
    assert "You predicted **resnet50**; the measurement says **densenet121**: not this time." in revealed
    assert len(at.get("plotly_chart")) == 1
    links = page_links(at)
    assert links["Build — densenet121"] == "preset=densenet121"
    assert links["Graph — resnet50 without skips"] == "preset=resnet50&skip=off"
    assert len(links) == 6  # Build and Graph for each of the three models
    assert next(m.value for m in at.metric if m.label == "Tally") == "0 of 1"

    # A second lesson, predicted right: the tally counts both.
    at.query_params["lesson"] = "05_depthwise_separable"
    at.run()
    at.slider(key="lessons.predict.05_depthwise_separable").set_value(0.12).run()
    at.button(key="lessons.run").click().run()
    assert not at.exception, at.exception
    assert any("measured **0.119**" in s.value and "right" in s.value for s in at.success)
    assert next(m.value for m in at.metric if m.label == "Tally") == "1 of 2"
    assert "The measured numbers support the claim." in [c.value for c in at.caption]


def test_moving_an_input_hides_the_old_reveal():
    at = open_lesson("05_depthwise_separable")
    at.slider(key="lessons.predict.05_depthwise_separable").set_value(0.12).run()
    at.button(key="lessons.run").click().run()
    assert at.get("plotly_chart")
    at.slider(key="lessons.input.05_depthwise_separable.dk").set_value(5).run()
    assert not at.get("plotly_chart")  # the reveal was for Dk = 3
    at.button(key="lessons.run").click().run()
    assert any("measured **0.0478**" in s.value for s in [*at.success, *at.info])  # 1/128 + 1/25


def test_a_run_that_does_not_show_the_claim_calls_no_pick_right(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    # The degradation lesson at a two-step budget on small nets, so the test is quick: nothing has
    # learned, the claim is not shown, and the reveal says so instead of calling the pick right.
    text = (LESSONS_DIR / "02_degradation.toml").read_text().replace("steps = 100", "steps = 2")
    text = text.replace("seeds = [0, 1, 2]", "seeds = [0, 1]").replace("tail = 20", "tail = 1")
    text = text.replace("depth=56&width=8", "depth=8&width=4")
    (tmp_path / "02_degradation.toml").write_text(text)
    monkeypatch.setenv(LESSONS_ENV, str(tmp_path))
    monkeypatch.setenv(RUNS_ENV, str(tmp_path / "no-runs"))  # the recorded long run is another test's
    at = open_lesson("02_degradation")
    at.radio(key="lessons.predict.02_degradation").set_value("plain-56").run()
    at.button(key="lessons.run").click().run()
    assert not at.exception, at.exception
    warning = " ".join(w.value for w in at.warning)
    assert "no prediction is called right or wrong this time" in warning
    assert "This run does not show the claim" in warning and "plain-56" in warning
    assert not at.success
    assert "final loss (± final loss spread): plain-20 " in markdown(at)
    assert next(m.value for m in at.metric if m.label == "Tally") == "0 of 0"
    assert len(at.get("plotly_chart")) == 2
    # Another prediction, run again: the measured outcome comes from the server's store, with no
    # progress drawn from a cached function (st.cache_data would replay it on a block that is gone).
    at.radio(key="lessons.predict.02_degradation").set_value("residual-56").run()
    at.button(key="lessons.run").click().run()
    assert not at.exception, at.exception
    assert any("You predicted **residual-56**" in w.value for w in at.warning)


def test_presenter_mode_hides_the_sidebar_and_steps_through_lessons():
    at = open_lesson("04_densenet_vs_resnet", present="on")
    assert any("stSidebar" in m.value for m in at.markdown)
    assert at.toggle(key="lessons.presenter").value
    at.button(key="lessons.next").click().run()
    assert not at.exception, at.exception
    assert at.query_params["lesson"] == "05_depthwise_separable"
    assert at.title[0].value == "Depthwise separable convolution"
    at.button(key="lessons.previous").click().run()
    assert at.title[0].value == "DenseNet-121 vs ResNet-50"
    at.toggle(key="lessons.presenter").set_value(False).run()
    assert "present" not in at.query_params
    assert not any("stSidebar" in m.value for m in at.markdown)


def test_a_bad_lesson_file_is_named_and_the_others_still_load(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    shutil.copy(LESSONS_DIR / "09_accuracy_vs_params.toml", tmp_path)
    text = (LESSONS_DIR / "08_memory_paths.toml").read_text().replace('widget = "choice"', 'widget = "dial"')
    (tmp_path / "08_memory_paths.toml").write_text(text)
    monkeypatch.setenv(LESSONS_ENV, str(tmp_path))
    at = open_lesson("09_accuracy_vs_params")
    errors = [e.value for e in at.error]
    assert len(errors) == 1
    assert "lesson file 08_memory_paths.toml: field 'question.widget' is 'dial'; allowed: choice, slider" in errors[0]
    assert at.title[0].value.startswith("Accuracy against parameters")
    at.radio(key="lessons.predict.09_accuracy_vs_params").set_value("efficientnet_b0").run()
    at.button(key="lessons.run").click().run()
    assert any("right" in s.value for s in at.success)


def test_an_unknown_lesson_name_falls_back_with_a_warning():
    at = open_lesson("no_such_lesson")
    assert "There is no lesson 'no_such_lesson'" in at.warning[0].value
    assert at.title[0].value.startswith("Plain vs residual")


def test_a_one_config_lesson_takes_the_links_config_keys():
    at = open_lesson("07_compound_scaling", preset="efficientnet_b0", resolution="192")
    at.slider(key="lessons.predict.07_compound_scaling").set_value(8.0).run()
    at.button(key="lessons.run").click().run()
    assert not at.exception, at.exception
    assert page_links(at)["Scaling lab — efficientnet_b0"] == "family=efficientnet&resolution=192"


def test_a_run_refused_by_the_size_guard_says_why(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("EXPLORER_MEMORY_BUDGET_MB", "1")
    at = open_lesson("01_plain_vs_residual")
    at.radio(key="lessons.predict.01_plain_vs_residual").set_value("plain-56").run()
    at.button(key="lessons.run").click().run()
    assert not at.exception, at.exception
    assert "The experiment cannot run here:" in at.error[0].value and "budget" in at.error[0].value
    assert next(m.value for m in at.metric if m.label == "Tally") == "0 of 0"


def test_the_degradation_lesson_opens_its_recorded_long_run_at_once():
    at = open_lesson("02_degradation")
    assert "5. Given longer (recorded runs)" in [h.value for h in at.subheader]
    shown = " ".join(s.value for s in at.success)
    assert "The recorded numbers show the claim (it expects **plain-56** highest)" in shown
    assert "plain-20 0.152 ± 0.059 · plain-56 2.01 ± 0.1 · residual-56 0.0664 ± 0.013" in shown
    assert "Degradation, given 800 steps" in markdown(at)
    assert any("record lesson 02_degradation --set=steps=800" in c.value for c in at.code)
    # each record's curves and final losses, before any live run: the 800-step run and He et al.'s figure
    assert len(at.get("plotly_chart")) == 4
    assert "He et al.'s figure: 3,000 steps at batch 64" in markdown(at)
    assert "plain-20 0.0044 ± 0.0018 · plain-56 0.658 ± 0.27 · residual-56 0.00218 ± 0.0016" in shown
    assert at.button(key="lessons.rerun.degradation-long.ask").label == "Re-run it live…"
    # Re-running it live: first the time it would take here, timed now from a few steps.
    at.button(key="lessons.rerun.degradation-long.ask").click().run()
    assert not at.exception, at.exception
    estimate = next(i.value for i in at.info if i.value.startswith("Re-running takes about"))
    assert "on cpu (timed here, now)" in estimate
    assert at.button(key="lessons.rerun.degradation-long.start").label.startswith("Start (")
