"""The server's garbage-collection policy (explorer.runtime.heap), in a process of its own: a freeze
is for the rest of the process's life."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = """
import gc, sys, torch
from explorer.runtime.heap import HEAVY_MODULES, freeze_imports
frozen = freeze_imports()
assert all(name in sys.modules for name in HEAVY_MODULES)
assert freeze_imports() == frozen and gc.get_freeze_count() <= frozen  # once per process
tracked = gc.get_objects()
walked = {id(o) for o in tracked}
assert id(torch.nn.Conv2d) not in walked and id(torch.nn.functional.relu) not in walked
print(frozen, len(tracked))
"""


def test_the_imports_are_frozen_once_and_left_out_of_full_collections() -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr
    frozen, tracked = map(int, result.stdout.split())
    assert frozen > 100_000  # torch, torchvision, plotly and pandas: about 300,000 objects
    assert tracked < frozen / 10  # what a full collection still walks
