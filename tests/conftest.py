"""Make the repository root importable (``explorer`` is not installed as a package), and offer
``single_thread``: the library tests run tiny tensors, where torch's intra-op threads only spin
against each other and the rest of a busy 2-core machine (10-20x the CPU time in backward)."""

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist (``run.py test`` runs one worker per core) each worker is one torch thread:
    two workers of two threads each on two cores spin against each other. The app servers and commands
    that tests start inherit it through ``OMP_NUM_THREADS``."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        import torch

        os.environ.setdefault("OMP_NUM_THREADS", "1")
        torch.set_num_threads(1)


@pytest.fixture(scope="module")
def single_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _devices() -> list[str]:
    from explorer.runtime.device import available_devices

    return available_devices()


@pytest.fixture(params=_devices())
def device(request) -> str:
    """Each device this machine has (``explorer.runtime.device.available_devices()``): the CPU on CI, and
    CUDA (and MPS) too where they exist, so one ``python3 run.py test`` covers every device."""
    return request.param
