"""Make the repository root importable (``explorer`` is not installed as a package), and offer
``single_thread``: the library tests run tiny tensors, where torch's intra-op threads only spin
against each other and the rest of a busy 2-core machine (10-20x the CPU time in backward)."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture(scope="module")
def single_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
