"""Every preset, at its own resolution and at 32 px (the CIFAR-sized question an engineer asks on day
one): ``profile`` succeeds, secondary figures degrade to "not available: why" or a stated other batch,
and the pages open on it. Where a network really cannot run at 32 px (AlexNet, Inception-v3 with its
auxiliary classifier), the refusal is one clear minimum-size message."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from explorer.config import parse_query
from explorer.families import PRESETS
from explorer.knobs import ConfigError

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
REFERENCE = json.loads((Path(__file__).parent / "data" / "torchvision.json").read_text())["models"]
#: Presets that cannot run at 32 px, and what their refusal must say.
TOO_SMALL_AT_32 = {
    "alexnet": "resolution=32 is too small for AlexNet: it needs at least 63 px",
    "inception_v3": "resolution=32 is too small for the auxiliary classifier (aux=on needs 299 px",
}


def _queries() -> list[str]:
    parse_query("preset=resnet18")  # registers the families and their presets
    own = [f"preset={name}" for name in PRESETS]
    small = [f"preset={name}&resolution=32" for name in PRESETS if name not in TOO_SMALL_AT_32]
    return own + small


@pytest.fixture(scope="module")
def profiles() -> dict[str, dict]:
    """One ``profile --json`` run over every query, as a user would run it."""
    queries = _queries()
    done = subprocess.run(
        [sys.executable, "-m", "explorer", "--device", "cpu", "profile", *queries, "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    records = json.loads(done.stdout)
    assert len(records) == len(queries)
    return dict(zip(queries, records, strict=True))


def test_profile_succeeds_for_every_preset_at_its_resolution_and_at_32_px(profiles):
    assert len(profiles) == 2 * len(PRESETS) - len(TOO_SMALL_AT_32)
    for query, record in profiles.items():
        name = query.split("&")[0].removeprefix("preset=")
        if name in REFERENCE:  # parameters never depend on the input size
            assert record["params"] == REFERENCE[name]["params"], query
        assert record["params"] > 0 and record["macs"] > 0, query
        if query.endswith("&resolution=32"):
            assert record["resolution"] == 32, query
            own = profiles[f"preset={name}"]
            assert record["macs"] < own["macs"] or own["resolution"] == 32, query


def test_training_memory_is_counted_at_batch_2_where_batch_1_cannot_train(profiles):
    at_two = []
    for query, record in profiles.items():
        assert isinstance(record["training_bytes"], int) and record["training_bytes"] > 0, query
        if record["training_batch"] == 1:
            assert record["notes"] == [], query
        else:
            at_two.append(query)
            assert record["training_batch"] == 2, query
            (note,) = record["notes"]
            assert note.startswith("training_bytes counted at batch 2: at batch 1 a batch norm sees one value"), note
    # the 30 ImageNet ResNets, DenseNets, MobileNets, EfficientNets (Lite too) and GoogLeNet reach 1x1
    # maps at 32 px; Inception-v3's auxiliary classifier pools to 1x1 even at 299 px
    assert "preset=inception_v3" in at_two
    assert "preset=resnet50&resolution=32" in at_two and "preset=resnet50" not in at_two
    assert len(at_two) == 31


@pytest.mark.parametrize("name", sorted(TOO_SMALL_AT_32))
def test_networks_that_cannot_run_at_32_px_refuse_with_their_minimum_size(name):
    with pytest.raises(ConfigError) as raised:
        parse_query(f"preset={name}&resolution=32")
    assert TOO_SMALL_AT_32[name] in str(raised.value)
    done = subprocess.run(
        [sys.executable, "-m", "explorer", "profile", f"preset={name}&resolution=32", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and done.stdout == ""
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("error: ") and TOO_SMALL_AT_32[name] in line


def _page(page: str, query: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=300)
    at.switch_page(page)
    for pair in query.split("&"):
        key, value = pair.split("=")
        at.query_params[key] = value
    at.run()
    return at


@pytest.mark.parametrize("resolution", ["own", "32"])
def test_the_build_page_opens_every_preset(resolution):
    for query in _queries():
        if (resolution == "32") != query.endswith("&resolution=32"):
            continue
        at = _page("pages/build.py", query)
        assert not at.exception, (query, at.exception)
        assert not at.error, (query, [e.value for e in at.error])
        labels = {m.label: m.value for m in at.metric}
        assert labels["Parameters"] != "n/a", query
        training = next(label for label in labels if label.startswith("Training memory"))
        assert labels[training] != "n/a", (query, training)


#: One preset of each family, at 32 px, on the pages that build real models.
ONE_A_FAMILY = [
    *("resnet50", "densenet121", "mobilenet_v1", "mobilenet_v3_small", "efficientnet_b0", "googlenet", "vgg11"),
]


@pytest.mark.parametrize("page", ["graph", "signal", "scaling", "saliency", "deform", "history"])
def test_the_other_pages_open_at_32_px(page):
    for name in ONE_A_FAMILY:
        at = _page(f"pages/{page}.py", f"preset={name}&resolution=32")
        assert not at.exception, (page, name, at.exception)
        unexpected = [e.value for e in at.error if "ImageNet weights" not in e.value]  # offline: no download
        assert not unexpected, (page, name, unexpected)
