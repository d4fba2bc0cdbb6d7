"""``python3 run.py test`` type-checks the library and the pages with mypy (configured in
pyproject.toml) between ruff and pytest, and a type error fails the run."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def load_run_py():
    spec = importlib.util.spec_from_file_location("run_py", ROOT / "run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_test_command_runs_mypy_between_ruff_and_pytest(monkeypatch) -> None:
    run_py = load_run_py()
    calls: list[list[str]] = []

    def fake_run(command, **kwargs) -> int:
        calls.append([str(part) for part in command[1:]])
        return 1 if command[1:3] == ["-m", "mypy"] else 0  # a type error, everything else clean

    for name in ("ensure_requirements", "ensure_chromium", "ensure_nginx"):
        monkeypatch.setattr(run_py, name, lambda *args: None)
    monkeypatch.setattr(run_py, "ensure_venv", lambda: Path(sys.executable))
    monkeypatch.setattr(run_py, "run", fake_run)
    assert run_py.command_test(["-x"]) == 1  # pytest passed, but mypy did not
    assert [c[:2] for c in calls] == [["-m", "ruff"], ["-m", "mypy"], ["-m", "pytest"]]


@pytest.mark.slow
def test_mypy_is_clean() -> None:
    done = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("Success: no issues found")
