"""Where models run: CUDA if present, else Apple MPS, else the CPU; how much memory is free there;
and the float32 precision analyses compute in (full float32 on every device, see :func:`full_float32`)."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch

from explorer.errors import InputError

DEVICE_CHOICES = ("auto", "cuda", "mps", "cpu")


def available_devices() -> list[str]:
    devices = []
    if torch.cuda.is_available():
        devices.append("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        devices.append("mps")
    devices.append("cpu")
    return devices


def start_up() -> list[str]:
    """What a fresh server defers until its first page is drawn: torch (imported with this module),
    the devices probed, and the model families with torchvision (about 1.5 s of one core more), so
    that the first config a class opens that is not stored does not pay for that import while
    everyone waits. Returns :func:`available_devices`."""
    import explorer.families.nets  # noqa: F401  (every family's torch modules and builder, torchvision)

    return available_devices()


def best_device(requested: str = "auto") -> torch.device:
    """The device to use: ``requested`` if it is available, the best one for ``auto``.

    Raises ValueError naming what is available when a specific device is asked for and absent.
    """
    devices = available_devices()
    if requested == "auto":
        return torch.device(devices[0])
    if requested not in DEVICE_CHOICES:
        raise InputError(f"unknown device '{requested}'; allowed: {', '.join(DEVICE_CHOICES)}")
    if requested not in devices:
        raise InputError(f"device '{requested}' is not available here; available: {', '.join(devices)}")
    return torch.device(requested)


def free_memory_bytes(device: torch.device) -> int:
    """Memory the device can still give: CUDA's free memory, else the host's available memory."""
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free)
    if device.type == "mps":
        recommended = getattr(torch.mps, "recommended_max_memory", None)
        if recommended is not None:
            return int(recommended() - torch.mps.current_allocated_memory())
    return _host_available_bytes()


def _host_available_bytes() -> int:
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")


def describe(device: torch.device) -> str:
    if device.type == "cuda":
        return f"CUDA · {torch.cuda.get_device_name(device)}"
    if device.type == "mps":
        return "Apple MPS"
    threads = torch.get_num_threads()
    return f"CPU · {threads} thread{'s' * (threads != 1)}"


# -- precision -----------------------------------------------------------------------------------
# Convolutions on CUDA default to TF32 (10-bit mantissa), which moves activation statistics by
# percents; analyses run in full float32 so one link gives the same numbers on every device.
_PRECISION_LOCK = threading.Lock()
_PRECISION_USERS = 0
_PRECISION_SAVED: dict[str, str] = {}


def _precision_settings() -> dict[str, Any]:
    """The float32 precision switches of this torch: name -> backend object with the attribute."""
    backends = torch.backends
    cudnn_conv = getattr(backends.cudnn, "conv", None)
    if cudnn_conv is not None and hasattr(cudnn_conv, "fp32_precision"):  # torch >= 2.9
        return {"matmul": backends.cuda.matmul, "conv": cudnn_conv}
    return {}


def float32_precision() -> dict[str, str]:
    """What float32 matmuls and convolutions compute with now: "ieee" (full) or "tf32"."""
    settings = _precision_settings()
    if settings:
        return {name: str(owner.fp32_precision) for name, owner in settings.items()}
    return {
        "matmul": "tf32" if torch.backends.cuda.matmul.allow_tf32 else "ieee",
        "conv": "tf32" if torch.backends.cudnn.allow_tf32 else "ieee",
    }


def _set_float32_precision(values: dict[str, str]) -> None:
    settings = _precision_settings()
    if settings:
        for name, owner in settings.items():
            owner.fp32_precision = values[name]
    else:
        torch.backends.cuda.matmul.allow_tf32 = values["matmul"] == "tf32"
        torch.backends.cudnn.allow_tf32 = values["conv"] == "tf32"


@contextmanager
def full_float32() -> Iterator[None]:
    """Run the body with TF32 off for matmuls and convolutions; restore the settings afterwards.

    The switches are process-wide, so concurrent analyses share one reference count: TF32 stays
    off while any of them runs and the saved settings come back when the last one leaves, even
    when the body raises. On the CPU the switches change nothing (it always computes in float32).
    """
    global _PRECISION_USERS
    with _PRECISION_LOCK:
        if _PRECISION_USERS == 0:
            _PRECISION_SAVED.clear()
            _PRECISION_SAVED.update(float32_precision())
            _set_float32_precision({"matmul": "ieee", "conv": "ieee"})
        _PRECISION_USERS += 1
    try:
        yield
    finally:
        with _PRECISION_LOCK:
            _PRECISION_USERS -= 1
            if _PRECISION_USERS == 0:
                _set_float32_precision(dict(_PRECISION_SAVED))


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued kernels (CUDA and MPS run asynchronously)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()
