"""``python -m explorer`` as other tools see it: a subprocess, JSON on stdout, one-line errors, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch

from explorer.cli import main
from explorer.families import FAMILIES, PRESETS

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = json.loads((Path(__file__).parent / "data" / "torchvision.json").read_text())["models"]

#: Run as real subprocesses (each spends seconds importing torch, so only the contract's own cases);
#: the other error cases below call ``main()`` in-process, which is the same code path.
RUNS: dict[str, list[str]] = {
    "json": ["profile", "preset=resnet18", "preset=mobilenet_v2", "--json"],
    "keys": ["keys", "--markdown"],
    "unknown key": ["profile", "preset=resnet18&foo=1"],
    "bad value": ["profile", "family=resnet&depth=abc"],
    "no args": [],
    "unknown command": ["frobnicate"],
    "bad device name": ["--device", "tpu", "profile", "preset=resnet18"],
}

#: Bad command lines -> a fragment of the one error line.
BAD = {
    "unknown key": (RUNS["unknown key"], "unknown key 'foo' for family=resnet; allowed: preset, depth"),
    "bad value": (RUNS["bad value"], "invalid value 'abc' for 'depth'"),
    "no args": (RUNS["no args"], "required: command"),
    "unknown command": (RUNS["unknown command"], "invalid choice: 'frobnicate'"),
    "bad device name": (RUNS["bad device name"], "unknown device 'tpu'; allowed: auto, cuda, mps, cpu"),
    "cross-key": (["profile", "family=resnet&depth=51"], "depth=51 is not an ImageNet ResNet depth"),
    "unknown preset": (["profile", "preset=resnet51"], "unknown preset 'resnet51'"),
    "no query": (["profile"], "required: QUERY"),
    "bad batch": (["profile", "preset=resnet18", "--batch", "0"], "--batch must be at least 1"),
    "second query bad": (["profile", "preset=resnet18", "preset=nope", "--json"], "unknown preset 'nope'"),
    "duplicate key": (["profile", "family=resnet&depth=18&depth=34"], "key 'depth' is given twice"),
}
if not torch.cuda.is_available():
    BAD["absent device"] = (["--device", "cuda", "keys"], "device 'cuda' is not available here; available: cpu")


def run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "explorer", *args], cwd=ROOT, capture_output=True, text=True, timeout=240
    )


@pytest.fixture(scope="module")
def results() -> dict[str, subprocess.CompletedProcess[str]]:
    """Every command line above, run a few at a time (each process spends seconds importing torch)."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        done = dict(zip(RUNS, pool.map(run, RUNS.values()), strict=True))
    return done


@pytest.mark.slow
def test_profile_json(results: dict[str, subprocess.CompletedProcess[str]]) -> None:
    proc = results["json"]
    assert proc.returncode == 0, proc.stderr
    records = json.loads(proc.stdout)
    assert isinstance(records, list) and len(records) == 2
    for record, name, family in zip(records, ("resnet18", "mobilenet_v2"), ("resnet", "mobilenet_v2"), strict=True):
        assert record["query"] == f"preset={name}"
        assert record["family"] == family
        assert record["params"] == REFERENCE[name]["params"]
        assert record["macs"] == REFERENCE[name]["macs"]
        assert record["resolution"] == 224
        layers = record["layers"]
        assert layers
        for row in layers:
            assert {"name", "type", "params", "macs", "output_shape"} <= set(row)
            assert isinstance(row["output_shape"], list)
        assert sum(row["params"] for row in layers) == record["params"]
        assert sum(row["macs"] for row in layers) == record["macs"]
    first = records[0]["layers"][0]
    assert (first["name"], first["type"], first["params"]) == ("conv1", "Conv2d", 64 * 3 * 7 * 7)
    assert first["output_shape"] == [1, 64, 112, 112]
    assert first["macs"] == 64 * 112 * 112 * 3 * 7 * 7
    assert records[0]["layers"][-1]["name"] == "fc"
    assert records[0]["layers"][-1]["output_shape"] == [1, 1000]
    assert proc.stderr == ""


def test_profile_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profile", "family=resnet&depth=18"]) == 0  # in-process: the same code as the subprocess
    out = capsys.readouterr().out
    assert out.startswith("preset=resnet18  (resnet, 224 px)")
    assert "11,689,512" in out
    assert "1,814,073,344" in out
    assert "layer4.1.conv2" in out
    assert "1x512x7x7" in out
    assert not out.lstrip().startswith("[")


@pytest.mark.slow
def test_keys_markdown_lists_every_family_and_preset(results: dict[str, subprocess.CompletedProcess[str]]) -> None:
    proc = results["keys"]
    assert proc.returncode == 0, proc.stderr
    for family in FAMILIES:
        assert f"**`family={family}`**" in proc.stdout
    assert proc.stdout.count("| key | default | allowed | meaning |") == len(FAMILIES)
    assert "| `deform` |" in proc.stdout
    for preset in PRESETS:
        assert f"`{preset}`" in proc.stdout


@pytest.mark.slow
@pytest.mark.parametrize("case", [case for case in BAD if case in RUNS])
def test_bad_input_exits_2_with_one_error_line(results: dict[str, subprocess.CompletedProcess[str]], case: str) -> None:
    proc = results[case]
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ")
    assert BAD[case][1] in lines[0]
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_in_process(capsys: pytest.CaptureFixture[str], case: str) -> None:
    argv, fragment = BAD[case]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("error: ")
    assert captured.err.count("\n") == 1 and captured.err.endswith("\n")
    assert fragment in captured.err


def test_profile_in_process(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profile", "preset=resnet20", "family=plain&depth=4&width=2", "--json"]) == 0
    resnet20, plain = json.loads(capsys.readouterr().out)
    assert (resnet20["query"], resnet20["params"], resnet20["resolution"]) == ("preset=resnet20", 269_722, 32)
    # Plain, depth 4, width 2: stem conv 3->2 (+BN), then one 3x3 conv per stage: 2->2, 2->4, 4->8 (+BN
    # each), then a linear 8->1000. Convs have no bias when followed by BN.
    convs = 3 * 2 * 9 + 2 * 2 * 9 + 2 * 4 * 9 + 4 * 8 * 9
    bns = 2 * (2 + 2 + 4 + 8)
    assert plain["params"] == convs + bns + 8 * 1000 + 1000
    assert plain["query"] == "family=plain&depth=4&width=2"


def test_keys_json_in_process(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keys"]) == 0
    families = json.loads(capsys.readouterr().out)
    assert [f["family"] for f in families] == list(FAMILIES)
    resnet = next(f for f in families if f["family"] == "resnet")
    depth = next(k for k in resnet["keys"] if k["key"] == "depth")
    assert depth["default"] == "18"
    assert depth["allowed"] == "a number from 8 to 1202 (whole numbers only)"
    resolution = next(k for k in resnet["keys"] if k["key"] == "resolution")
    assert resolution["default"].startswith("auto: ")
