"""explorer.views.lessons: figures from measured panels, the verdict line, the links."""

from __future__ import annotations

from explorer.analysis.lessons import LESSONS_DIR, Panel, Series, load_lesson
from explorer.views.lessons import lesson_link, links, panel_figure, tally_text, verdict


def test_bar_panel_keeps_error_bars_and_log_axes() -> None:
    panel = Panel("t", "x", "y", "bar", (Series("loss", ("a", "b"), (2.1, 2.2), (0.01, 0.3)),), log_y=True)
    figure = panel_figure(panel)
    assert list(figure.data[0].error_y.array) == [0.01, 0.3]
    assert figure.layout.yaxis.type == "log" and figure.layout.title.text == "t"


def test_long_curves_drop_markers() -> None:
    short = panel_figure(Panel("t", "x", "y", "line", (Series("s", tuple(range(5)), (1.0,) * 5),)))
    long = panel_figure(Panel("t", "x", "y", "line", (Series("s", tuple(range(57)), (1.0,) * 57),)))
    assert short.data[0].mode == "lines+markers" and long.data[0].mode == "lines"


def test_verdict_names_prediction_measurement_and_tolerance() -> None:
    lesson = load_lesson(LESSONS_DIR / "07_compound_scaling.toml")
    assert verdict(lesson, 8.0, 8.425, True) == ("You predicted **8×**; measured **8.43×** (within 10% of it: right).")
    assert tally_text(5, 8) == "You predicted 5 of 8" and tally_text(0, 0) == "No predictions yet"


def test_links_open_every_config_in_every_named_page() -> None:
    lesson = load_lesson(LESSONS_DIR / "08_memory_paths.toml")
    targets = links(lesson)
    assert [(page, config) for page, _, _, config in targets][:3] == [
        ("pages/build.py", "resnet50"),
        ("pages/build.py", "resnet50 without skips"),
        ("pages/build.py", "densenet121"),
    ]
    assert targets[4][2] == {"preset": "resnet50", "skip": "off"}
    assert lesson_link("08_memory_paths") == "/lessons?lesson=08_memory_paths"
