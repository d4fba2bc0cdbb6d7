"""Local ports and health for the servers that tests and benches start (``streamlit run``, ``run.py
serve``'s nginx and workers): one helper instead of a copy in every script."""

from __future__ import annotations

import socket
import urllib.request


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (the kernel's choice)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port_block(size: int, tries: int = 50) -> int:
    """The first of ``size`` consecutive free ports (nginx on the first, workers on the next)."""
    for _ in range(tries):
        base = free_port()
        if base + size < 65000 and all(is_free(base + k) for k in range(size)):
            return base
    raise RuntimeError(f"no block of {size} free ports in {tries} tries")


def healthy(port: int, timeout: float = 2.0) -> bool:
    """Whether a Streamlit server on ``port`` answers its health check with ``ok``."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=timeout) as response:
            return bool(response.read().strip() == b"ok")
    except OSError:
        return False
