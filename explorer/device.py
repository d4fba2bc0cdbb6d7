"""Where models run: CUDA if present, else Apple MPS, else the CPU; and how much memory is free there."""

from __future__ import annotations

import os

import torch

DEVICE_CHOICES = ("auto", "cuda", "mps", "cpu")


def available_devices() -> list[str]:
    devices = []
    if torch.cuda.is_available():
        devices.append("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        devices.append("mps")
    devices.append("cpu")
    return devices


def best_device(requested: str = "auto") -> torch.device:
    """The device to use: ``requested`` if it is available, the best one for ``auto``.

    Raises ValueError naming what is available when a specific device is asked for and absent.
    """
    devices = available_devices()
    if requested == "auto":
        return torch.device(devices[0])
    if requested not in DEVICE_CHOICES:
        raise ValueError(f"unknown device '{requested}'; allowed: {', '.join(DEVICE_CHOICES)}")
    if requested not in devices:
        raise ValueError(f"device '{requested}' is not available here; available: {', '.join(devices)}")
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
    return f"CPU · {torch.get_num_threads()} threads"
