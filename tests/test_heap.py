"""The server's garbage-collection policy (explorer.runtime.heap), in a process of its own: a freeze
is for the rest of the process's life."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = """
import gc, sys
from explorer.runtime.heap import freeze_imports
assert not freeze_imports()  # nothing heavy yet: no freeze
import torch
assert freeze_imports() and not freeze_imports()  # torch arrived: one freeze, then none
after_torch = gc.get_freeze_count()
walked = {id(o) for o in gc.get_objects()}
assert id(torch.nn.Conv2d) not in walked and id(torch.nn.functional.relu) not in walked
import torchvision
assert id(torchvision.models.ResNet) in {id(o) for o in gc.get_objects()}
assert freeze_imports() and gc.get_freeze_count() > after_torch
class Later: pass
assert id(Later) in {id(o) for o in gc.get_objects()}  # what comes after is collected as before
print(after_torch, gc.get_freeze_count(), len(gc.get_objects()))
"""


def test_heavy_imports_are_frozen_as_they_arrive_and_left_out_of_full_collections() -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr
    after_torch, frozen, walked = map(int, result.stdout.split())
    assert after_torch > 100_000 and frozen > after_torch + 50_000  # torch about 180,000, torchvision 150,000 more
    assert walked < frozen / 10  # what a full collection still walks
