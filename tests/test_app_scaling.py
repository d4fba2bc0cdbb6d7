"""The Scaling lab page through Streamlit's AppTest: a shared link answers "what does phi=3 with
beta=1.2 cost, and how close is it to B3?" in numbers; every tab renders; pins live in the URL."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from explorer.analysis.scaling import format_pins
from explorer.config import parse_query

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def open_scaling(**query: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=300)
    for key, value in query.items():
        at.query_params[key] = value
    at.switch_page("pages/scaling.py")
    at.run()
    assert not at.exception, at.exception
    return at


def metric(at: AppTest, label: str) -> str:
    values = [m for m in at.metric if m.label == label]
    assert values, f"no metric {label!r}; have {[m.label for m in at.metric]}"
    return values[0]


def show_tab(at: AppTest, name: str) -> AppTest:
    at.session_state["scaling.tab"] = name
    at.run()
    assert not at.exception, at.exception
    return at


def test_phi3_beta12_link_answers_in_numbers():
    at = open_scaling(family="efficientnet", phi="3", beta="1.2")
    assert metric(at, "alpha·beta²·gamma²").value == "2.285"
    assert metric(at, "alpha·beta²·gamma²").delta.startswith("+0.285 vs 2")
    assert metric(at, "Parameters").value == "26,186,674"
    assert metric(at, "MACs").value == "5.26 G"
    assert metric(at, "Resolution").value == "341 px"
    assert metric(at, "Nearest published").value == "B4"
    assert metric(at, "Nearest published").help == "nearest of torchvision's B0-B7 in log parameters and log MACs"
    at.selectbox[0].select("B3").run()
    text = " ".join(m.value for m in at.markdown)
    assert "×2.14 the parameters and ×2.88 the MACs of B3" in text
    sweep = at.dataframe[0].value
    assert list(sweep["phi"]) == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert sweep.loc[sweep["phi"] == 3.0, "MACs"].item() == 5_255_200_096
    assert sweep.loc[0, "params"] == 5_288_548  # phi=0 is B0
    assert len(at.get("plotly_chart")) == 5
    assert dict(at.query_params) == {"family": "efficientnet", "phi": "3", "beta": "1.2"}


def test_other_family_uses_page_sliders_and_keeps_them_in_the_url():
    at = open_scaling(preset="resnet18", scale_phi="2", max_phi="2")
    assert at.slider(key="scaling.scale_phi").value == 2.0
    caption = " ".join(c.value for c in at.caption)
    assert "design at phi=2: **preset=resnet34&width=77&resolution=296**" in caption
    assert any("nearest standard basic ResNet depth is 34" in c.value for c in at.caption)
    at.slider(key="scaling.scale_beta").set_value(1.2).run()
    assert not at.exception
    assert at.query_params["scale_beta"] == "1.2" and at.query_params["preset"] == "resnet18"
    assert metric(at, "alpha·beta²·gamma²").value == f"{1.2 * 1.2**2 * 1.15**2:.3f}"


def test_rounding_tab_explains_the_gap():
    at = show_tab(open_scaling(family="efficientnet", phi="3"), "Rounding")
    text = " ".join(m.value for m in at.markdown)
    assert "16 blocks x 1.728 = 27.6 ideally; the network has 31" in text
    factors = next(d.value for d in at.dataframe if "cause" in d.value.columns)
    assert list(factors["cause"]) == ["depth", "width", "resolution", "interaction", "total"]
    total = factors.loc[factors["cause"] == "total", "measured / rule"].item()
    assert 1.0 < total < 1.4


def test_published_and_grid_tabs():
    at = show_tab(open_scaling(family="efficientnet", phi="2"), "Published & accuracy")
    tables = [d.value for d in at.dataframe]
    accuracy = next(t for t in tables if "top-1 %" in t.columns)
    assert accuracy.loc[accuracy["model"] == "efficientnet_b3", "top-1 %"].item() == 82.008
    published = next(t for t in tables if "nominal phi" in t.columns)
    assert list(published["model"]) == [f"B{i}" for i in range(8)]
    at = show_tab(at, "MobileNet grid")
    grid = next(d.value for d in at.dataframe if "alpha" in d.value.columns)
    assert len(grid) == 16
    assert grid.loc[(grid["alpha"] == 1.0) & (grid["resolution"] == 224), "MACs"].item() == 568_740_352


def test_measure_button_times_the_design():
    at = open_scaling(family="mobilenet_v1", alpha="0.25", resolution="32", scale_phi="0")
    at = show_tab(at, "Measured cost")
    at.multiselect(key="scaling.presets").set_value([]).run()
    at.select_slider(key="scaling.repeats").set_value(3).run()
    at.select_slider(key="scaling.warmup").set_value(1).run()
    at.button(key="scaling.measure").click().run()
    assert not at.exception, at.exception
    timings = next(d.value for d in at.dataframe if "median ms" in d.value.columns)
    assert list(timings["batch"]) == [1, 4]
    assert (timings["median ms"] > 0).all() and (timings["peak memory MB"] > 0).all()


def test_pins_in_the_link_and_the_pin_button():
    pins = format_pins([parse_query("preset=efficientnet_b0"), parse_query("preset=efficientnet_b1")])
    at = show_tab(open_scaling(family="efficientnet", phi="1", pins=pins), "Compare")
    table = next(d.value for d in at.dataframe if "stage" in d.value.columns)
    total = table[table["stage"] == "total"]
    assert total["1: params"].item() == 5_288_548 and total["2: params"].item() == 7_794_184
    assert total["2: Δparams vs 1"].item() == 7_794_184 - 5_288_548
    at.button(key="scaling.pin").click().run()
    assert not at.exception
    assert at.query_params["pins"].split("|")[-1] == "family=efficientnet;phi=1"
    assert len(at.multiselect(key="scaling.pinned").value) == 3
    at.multiselect(key="scaling.pinned").unselect("preset=efficientnet_b0").run()
    assert at.query_params["pins"] == "preset=efficientnet_b1|family=efficientnet;phi=1"


def test_bad_pins_explain_and_do_not_crash():
    at = show_tab(open_scaling(family="efficientnet", pins="family=resnet;depth=51"), "Compare")
    assert any("pin 1" in e.value and "depth=51" in e.value for e in at.error)


def test_a_lite_design_is_compared_with_lite0_to_lite4():
    at = open_scaling(preset="efficientnet_lite3")
    assert metric(at, "Parameters").value == "8,197,096"
    assert metric(at, "Nearest published").value == "Lite3"
    assert metric(at, "Nearest published").help == "nearest of Google's Lite0-Lite4 in log parameters and log MACs"
    at = show_tab(at, "Published & accuracy")
    assert any(m.value.startswith("Google's Lite0-Lite4 use hand-picked") for m in at.markdown)
    published = next(d.value for d in at.dataframe if "nominal phi" in d.value.columns)
    assert list(published["model"]) == ["Lite0", "Lite1", "Lite2", "Lite3", "Lite4"]
    assert list(published["params"]) == [4_652_008, 5_416_680, 6_092_072, 8_197_096, 13_006_568]
