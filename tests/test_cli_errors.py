"""The command line's error contract: bad input exits 2 with one ``error:`` line (the library's
InputError naming the command's own flag); a bug exits 1 with one line naming the exception; with
``--traceback`` or ``EXPLORER_DEBUG=1`` the whole trace comes first."""

from __future__ import annotations

import argparse

import pytest

import explorer.cli.profile
from explorer.cli import main
from explorer.errors import InputError

TINY = "family=plain&depth=4&width=4&resolution=16"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def failing(exc: BaseException):
    def run(args: argparse.Namespace, device: object) -> int:
        raise exc

    return run


def test_a_bad_config_exits_2_with_one_line(capsys) -> None:
    code, out, err = run(capsys, "profile", "family=resnet&depth=abc")
    assert (code, out) == (2, "")
    assert err == "error: invalid value 'abc' for 'depth'; allowed: a number from 8 to 1202 (whole numbers only)\n"


def test_a_setting_is_named_by_the_commands_own_flag(capsys, tmp_path) -> None:
    code, out, err = run(capsys, "search", TINY, "--beta", "3", "--out", str(tmp_path))
    assert (code, out) == (2, "")
    assert err.startswith("error: --beta '3' is not a grid; allowed: START:STOP:STEP") and err.count("\n") == 1
    # the library said it without flags: "beta '3' is not a grid"
    code, _, err = run(capsys, "train", TINY, "--steps", "2", "--lr", "-1", "--out", str(tmp_path))
    assert code == 2 and err == "error: --lr -1.0; allowed: a positive number\n"


def test_an_input_error_about_a_setting_without_a_flag_keeps_the_library_words(capsys, monkeypatch) -> None:
    monkeypatch.setattr(explorer.cli.profile, "run", failing(InputError("0; allowed: 1 or more", field="slots")))
    code, _, err = run(capsys, "profile", TINY)
    assert code == 2 and err == "error: slots 0; allowed: 1 or more\n"


def test_an_unreadable_file_exits_2(capsys, tmp_path) -> None:
    code, out, err = run(capsys, "gradcam", "preset=resnet20", "--image", str(tmp_path / "no.png"), "--out", "x.npy")
    assert (code, out) == (2, "")
    assert err.startswith("error: cannot read image") and err.count("\n") == 1


@pytest.mark.parametrize("exc", [ZeroDivisionError("division by zero"), ValueError("a bug, not the user's input")])
def test_anything_else_is_a_bug_exit_1_one_line_naming_it(capsys, monkeypatch, exc) -> None:
    monkeypatch.delenv("EXPLORER_DEBUG", raising=False)
    monkeypatch.setattr(explorer.cli.profile, "run", failing(exc))
    code, out, err = run(capsys, "profile", TINY)
    assert (code, out) == (1, "")
    name = type(exc).__name__
    assert err == f"error: internal error ({name}): {exc} (run again with --traceback for the whole trace)\n"
    assert "Traceback" not in err


def test_traceback_flag_prints_the_whole_trace(capsys, monkeypatch) -> None:
    monkeypatch.delenv("EXPLORER_DEBUG", raising=False)
    monkeypatch.setattr(explorer.cli.profile, "run", failing(ZeroDivisionError("division by zero")))
    code, _, err = run(capsys, "--traceback", "profile", TINY)
    lines = err.splitlines()
    assert code == 1
    assert lines[0] == "Traceback (most recent call last):"
    assert any("in run" in line and "raise exc" not in line for line in lines)
    assert "ZeroDivisionError: division by zero" in lines
    assert lines[-1] == "error: internal error (ZeroDivisionError): division by zero"


@pytest.mark.parametrize(("value", "traced"), [("1", True), ("0", False), ("", False)])
def test_explorer_debug_prints_the_trace_too(capsys, monkeypatch, value, traced) -> None:
    monkeypatch.setenv("EXPLORER_DEBUG", value)
    monkeypatch.setattr(explorer.cli.profile, "run", failing(KeyError("layer")))
    code, _, err = run(capsys, "profile", TINY)
    assert code == 1 and err.startswith("Traceback (most recent call last):") is traced
    assert err.splitlines()[-1].startswith("error: internal error (KeyError): 'layer'")


def test_traceback_also_traces_bad_input(capsys, monkeypatch) -> None:
    monkeypatch.delenv("EXPLORER_DEBUG", raising=False)
    code, _, err = run(capsys, "--traceback", "profile", "family=resnet&depth=abc")
    assert code == 2 and err.startswith("Traceback") and "ConfigError" in err
    assert err.splitlines()[-1].startswith("error: invalid value 'abc' for 'depth'")


@pytest.mark.parametrize("argv", [["frobnicate"], [], ["--help"]])
def test_the_top_level_answers_without_importing_any_command(argv: list[str]) -> None:
    """A misspelt command, no command and the top level's help need only the commands' names: the
    process imports neither torch nor a command's module (it used to import all of them: 3 to 4 s)."""
    import subprocess
    import sys
    from pathlib import Path

    probe = (
        "import sys\nfrom explorer.cli import main\n"
        f"try:\n    code = main({argv!r})\nexcept SystemExit as stop:\n    code = stop.code\n"
        "commands = [m for m in sys.modules if m.startswith('explorer.cli.') and m != 'explorer.cli.base']\n"
        "heavy = sorted(commands + [m for m in sys.modules if m == 'torch'])\n"
        "print(code, heavy, file=sys.stderr)\n"
    )
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-c", probe], cwd=root, capture_output=True, text=True, timeout=60)
    code, heavy = done.stderr.strip().splitlines()[-1].split(" ", 1)
    assert code == ("0" if argv == ["--help"] else "2")
    assert heavy == "[]"


#: Each command that takes a design, with its required options (dummies: the design is read first).
COMMANDS_WITH_A_DESIGN = {
    "profile": [],
    "graph": [],
    "scaling": [],
    "signal": [],
    "gradcam": ["--image", "photo.png", "--out", "map.npy"],
    "features": ["--image", "photo.png", "--out", "maps.npy"],
    "erf": ["--out", "field.npy"],
    "deform": ["--image", "photo.png", "--out", "offsets.npz"],
    "train": ["--steps", "1", "--out", "weights"],
    "export": ["--format", "code", "--out", "model.py"],
    "search": ["--out", "results"],
}


def test_a_misspelt_key_answers_before_torch_is_imported() -> None:
    """A typo in a design needs only the config language: every command that takes one says so and
    exits 2 without importing torch (it used to import torch first: about 3 s for a typo)."""
    import subprocess
    import sys
    from pathlib import Path

    from explorer.cli import COMMANDS

    assert set(COMMANDS_WITH_A_DESIGN) <= set(COMMANDS)
    probe = (
        "import contextlib, io, sys\nfrom explorer.cli import main\n"
        f"for command, options in {COMMANDS_WITH_A_DESIGN!r}.items():\n"
        "    said = io.StringIO()\n"
        "    with contextlib.redirect_stderr(said):\n"
        "        code = main([command, *options, 'family=resnet&depht=3'])\n"
        "    print(command, code, 'torch' in sys.modules, said.getvalue().strip())\n"
    )
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-c", probe], cwd=root, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    answers = [line.split(" ", 3) for line in done.stdout.strip().splitlines()]
    assert [a[0] for a in answers] == list(COMMANDS_WITH_A_DESIGN)
    for command, code, torch_imported, said in answers:
        assert (code, torch_imported) == ("2", "False"), (command, said)
        assert said.startswith("error: unknown key 'depht' for family=resnet; allowed: preset, depth"), (command, said)


def test_erf_says_the_librarys_number_of_noise_inputs() -> None:
    """``erf --samples``'s help names its default without importing the library's ERF module (torch)."""
    from explorer.analysis.erf import SAMPLES
    from explorer.cli.erf import SAMPLES_SAID

    assert SAMPLES_SAID == SAMPLES
