"""The Signal Flow page through Streamlit's AppTest: curves drawn, the one-click experiment, overlays,
pins, and a short training run that ends with the scrubber."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from explorer.config import parse_query
from explorer.runtime.shipped import shipped_for

APP = str(Path(__file__).resolve().parents[1] / "app.py")
TINY = {"family": "plain", "depth": "8", "width": "4", "resolution": "16"}


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def open_signal(**query: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    at.switch_page("pages/signal.py")
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, at.exception
    return at


def captions(at: AppTest) -> str:
    return "\n".join(c.value for c in at.caption)


def charts(at: AppTest) -> list:
    return at.get("plotly_chart")


def test_page_draws_both_curves_for_the_linked_config():
    at = open_signal(**TINY)
    assert at.title[0].value == "Signal flow"
    assert "`family=plain&depth=8&width=4&resolution=16`" in at.markdown[0].value
    assert len(charts(at)) == 2  # activation std and gradient norm
    assert "9 conv/linear layers" in captions(at)  # 8 convs + the classifier
    assert not at.warning


def test_one_click_experiment_overlays_skip_on_and_off():
    at = open_signal(**TINY)
    at.button(key="signal.experiment").click().run()
    assert not at.exception, at.exception
    assert at.query_params["family"] == "plain" and at.query_params["depth"] == "30" and at.query_params["bn"] == "off"
    text = captions(at)
    assert "31 conv/linear layers" in text and "skip=on:" in text
    ratio = float(text.split("skip=on: ")[1].split("(")[1].split("×")[0])
    assert ratio > 1e6  # the residual net's gradient at layer 1 is millions of times larger


def test_pins_and_typed_curves_add_and_remove():
    at = open_signal(**TINY)
    typed = "family=plain&depth=8&width=4&resolution=16&skip=on"
    canonical = parse_query(typed).query
    at.text_input(key="signal.add").input(typed).run()
    assert not at.exception, at.exception
    assert f"{canonical}:" in captions(at)
    at.text_input(key="signal.add").input("family=plain&depth=2").run()
    assert any("Not added" in e.value for e in at.error)
    at.button(key=f"signal.unpin.{canonical}").click().run()
    assert "skip=on" not in captions(at)


def test_weight_gradients_and_eval_mode():
    at = open_signal(**TINY)
    at.pills(key="signal.metrics").set_value(["grad_norm", "weight_grad_norm", "activation_mean"]).run()
    from explorer.analysis.signal import Statistics

    assert at.radio(key="signal.mode").options == ["batch statistics (training mode)", "running statistics (eval mode)"]
    at.radio(key="signal.mode").set_value(Statistics.RUNNING).run()
    assert not at.exception, at.exception
    assert len(charts(at)) == 3


def test_short_training_run_ends_with_the_scrubber():
    at = open_signal(**TINY)
    stop = [b for b in at.button if b.key == "train.stop"]
    assert not stop  # nothing runs: no Stop button
    at.select_slider(key="train.steps").set_value(10)
    at.select_slider(key="train.batch").set_value(4)
    at.select_slider(key="train.every").set_value(5)
    at.button(key="train.start").click().run()
    assert not at.exception, at.exception
    done = next(s.value for s in at.success if s.value.startswith("Trained 10 steps"))
    assert "right on 512 held-out pictures (chance 12 %)" in done
    assert not [b for b in at.button if b.key == "train.stop"]  # the run is over: the Stop button is gone
    scrub = at.select_slider(key="train.scrub")
    assert list(scrub.options) == ["1", "5", "10"]
    scrub.set_value(5).run()
    assert not at.exception, at.exception
    assert len(charts(at)) == 2 + 1 + 3  # the curves above, the loss, and the three scrubbed curves


def test_training_a_shipped_architecture_starts_from_its_weights():
    at = open_signal(family="resnet", stem="cifar", depth="8", width="16")
    toggle = at.toggle(key="train.warm")
    assert toggle.value and "shipped model 'resnet8-cifar'" in toggle.label
    at.select_slider(key="train.steps").set_value(10)
    at.select_slider(key="train.batch").set_value(32)
    at.button(key="train.start").click().run()
    assert not at.exception, at.exception
    done = next(s.value for s in at.success if s.value.startswith("Trained 10 steps"))
    first_loss = float(done.split("loss ")[1].split(" ")[0])
    assert first_loss < 0.7, done  # learned weights: far below chance's ln 8 = 2.08
    shipped = shipped_for(parse_query("family=resnet&stem=cifar&depth=8&width=16"))
    assert f"This run trained `{shipped.query}`" in captions(at)  # the shipped model's 8 classes at 64 px


def test_a_fresh_config_says_it_starts_from_scratch():
    at = open_signal(**TINY)
    assert "Fresh weights, the teaching recipe: upright shapes at 16 px, 4,096 pictures" in captions(at)
    assert not at.info  # the tiny plain net is trained itself


def test_a_model_too_big_for_a_live_run_trains_its_familys_small_net():
    at = open_signal(preset="resnet18")
    swap = " ".join(i.value for i in at.info)
    assert "`preset=resnet18` needs 37 M MACs a picture at 32 px" in swap
    assert "`family=resnet&stem=cifar&depth=8&width=16&classes=8`, instead" in swap
    assert at.select_slider(key="train.steps").value == 200 and at.select_slider(key="train.batch").value == 64


@pytest.mark.slow
def test_train_and_watch_at_its_defaults_learns_from_fresh_weights():
    """The sidebar's default model (ResNet-18) is too big for a live run: its family's small net is
    trained with the teaching recipe (200 steps) and scores 95.7 % on the held-out pictures here,
    one thread (5.2 s on an idle core, see bench/README.md)."""
    at = open_signal(preset="resnet18")
    at.button(key="train.start").click().run()
    assert not at.exception, at.exception
    done = next(s.value for s in at.success if s.value.startswith("Trained 200 steps"))
    accuracy = float(done.split("; ")[1].split("%")[0])
    assert accuracy >= 80, done
    # ResNet-8's canonical query (the config language writes it as a variant of the resnet110 preset)
    assert "This run trained `preset=resnet110&depth=8&width=16&classes=8&resolution=16`." in captions(at)
