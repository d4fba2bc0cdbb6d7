"""``python -m explorer train``: a card that says how the weights were made and what they measure,
the same weights for the same seed, one-line errors; and ``python -m explorer models``."""

from __future__ import annotations

import hashlib
import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from explorer.cli import main
from explorer.cli.train import default_name
from explorer.config import parse_query

ROOT = Path(__file__).resolve().parents[1]
TINY = "family=plain&depth=4&width=4"
RESNET8 = ROOT / "assets" / "models" / "resnet8-cifar.pt"


@pytest.fixture(autouse=True)
def keep_threads():
    """The command sets torch's thread count (its thread policy); give the test process its own back."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def train_tiny(capsys, out: Path, *extra: str) -> dict:
    code = main(["--device", "cpu", "train", TINY, "--steps", "3", "--held-out", "20", "--out", str(out), *extra])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "step 3/3" in err  # the progress bar goes to stderr
    return json.loads((out / "plain-depth4-width4.json").read_text())


def test_the_card_describes_the_run_and_the_weights(tmp_path, capsys):
    card = train_tiny(capsys, tmp_path, "--seed", "5", "--batch", "4", "--lr", "0.01")
    weights = tmp_path / "plain-depth4-width4.pt"
    assert card["sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert card["bytes"] == weights.stat().st_size
    assert (card["steps"], card["seed"], card["batch"], card["lr"], card["device"]) == (3, 5, 4, 0.01, "cpu")
    assert card["shapes_version"] == 2 and card["resolution"] == 64 and len(card["classes"]) == 8
    assert card["query"] == "family=plain&depth=4&width=4&classes=8&resolution=64"
    assert card["held_out"]["n"] == 20 and 0 <= card["held_out"]["accuracy"] <= 1
    assert 0 <= card["held_out"]["pointing_game"] <= 1
    # a 3-step net is near chance: the card says so itself, with the measured figures
    assert card["goals"]["accuracy_at_least_95"] is False and card["goals"]["pointing_game_at_least_90"] is False
    assert f"{card['held_out']['accuracy']:.1%} accuracy" in card["goals"]["note"]
    assert card["torch"] == torch.__version__ and "CC0" in card["licence"]
    assert card["command"].startswith("python -m explorer --device cpu train 'family=plain&depth=4&width=4' --steps 3")
    assert "--seed 5 --batch 4 --lr 0.01" in card["command"]
    state = torch.load(weights, weights_only=True)
    from explorer.families import build

    build(parse_query(card["query"])).module.load_state_dict(state, strict=True)


def test_the_card_command_reproduces_the_weights_and_another_seed_does_not(tmp_path, capsys):
    card = train_tiny(capsys, tmp_path / "a")
    words = shlex.split(card["command"])
    assert words[:3] == ["python", "-m", "explorer"]
    words[words.index("--out") + 1] = str(tmp_path / "b")
    assert main(words[3:]) == 0, capsys.readouterr().err
    again = json.loads((tmp_path / "b" / "plain-depth4-width4.json").read_text())
    assert again["sha256"] == card["sha256"] and again["held_out"] == card["held_out"]
    other = train_tiny(capsys, tmp_path / "c", "--seed", "1")
    assert other["sha256"] != card["sha256"]


def test_a_real_process_trains_and_prints_the_card(tmp_path):
    done = subprocess.run(
        [
            *(sys.executable, "-m", "explorer", "train", TINY, "--steps", "2", "--held-out", "10"),
            *("--name", "t", "--json", "--out", str(tmp_path)),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["sha256"] == hashlib.sha256((tmp_path / "t.pt").read_bytes()).hexdigest()


def test_a_run_from_trained_weights_carries_the_whole_recipe_and_it_reproduces(tmp_path, monkeypatch, capsys):
    """``--from``: refine a model at another side; the card's command is the start's recipe, then this
    run, and running it again writes the same weights."""
    monkeypatch.chdir(tmp_path)
    parent = train_tiny(capsys, Path("a"))
    refine = ["--resolution", "32", "--from", "a/plain-depth4-width4.pt", "--name", "refined", "--out", "b"]
    code = main(["--device", "cpu", "train", TINY, "--steps", "2", "--held-out", "20", *refine])
    assert code == 0, capsys.readouterr().err
    card = json.loads(Path("b/refined.json").read_text())
    assert card["resolution"] == 32 and card["query"] == "family=plain&depth=4&width=4&classes=8&resolution=32"
    assert card["steps"] == 2 and card["total_steps"] == 5
    assert card["started_from"]["sha256"] == parent["sha256"] and card["started_from"]["resolution"] == 64
    assert card["recipe_wall_s"] >= card["wall_s"]
    first, second = card["command"].split(" && ")
    assert first == parent["command"] and "--from a/plain-depth4-width4.pt" in second
    assert "refined" in load_card_description(tmp_path / "b" / "refined.json")

    (tmp_path / "again").mkdir()
    monkeypatch.chdir(tmp_path / "again")
    for part in (first, second):
        assert main(shlex.split(part)[3:]) == 0, capsys.readouterr().err
    again = json.loads(Path("b/refined.json").read_text())
    assert again["sha256"] == card["sha256"] and again["held_out"] == card["held_out"]


def load_card_description(card_path: Path) -> str:
    from explorer.runtime.shipped import ShippedModel, load_shipped

    model = ShippedModel(card_path.stem, json.loads(card_path.read_text()), card_path.with_suffix(".pt"))
    assert "5 steps" in model.describe()  # the whole recipe's steps
    return load_shipped(model).weights


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", TINY, "--steps", "0", "--out", "x"], "error: --steps 0; allowed: 1 or more"),
        (["train", TINY, "--steps", "2", "--batch", "1", "--out", "x"], "error: --batch 1; allowed: 2 or more"),
        (["train", TINY, "--steps", "2", "--lr", "-1", "--out", "x"], "error: --lr -1.0; allowed: a positive number"),
        (["train", "preset=nope", "--steps", "2", "--out", "x"], "error: unknown preset 'nope'"),
        (["train", TINY, "--steps", "2", "--out", __file__], "error: --out"),
        (["train", TINY, "--steps", "2", "--name", "../x", "--out", "x"], "error: --name '../x'"),
        (["train", TINY, "--out", "x"], "error: the following arguments are required: --steps"),
        (["train", TINY, "--steps", "2", "--from", "nope.pt", "--out", "x"], "error: --from 'nope.pt': give a .pt"),
        (
            ["train", "family=plain&depth=6&width=4", "--steps", "2", "--out", "x", "--from", str(RESNET8)],
            f"error: --from '{RESNET8}' is a preset=resnet110&depth=8",
        ),
    ],
)
def test_bad_arguments_exit_2_with_one_error_line(args, message, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith(message), err
    assert len(err.strip().splitlines()) == 1


def test_default_names_come_from_the_query():
    assert default_name("preset=resnet20") == "resnet20"
    assert default_name("family=plain&depth=8&deform=on") == "plain-depth8-deformon"
