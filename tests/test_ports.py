"""The local-port helpers the server tests and benches share (explorer/runtime/ports.py)."""

from __future__ import annotations

import socket

from explorer.runtime.ports import free_port, free_port_block, healthy, is_free


def test_a_block_of_free_ports_is_free_and_a_taken_port_is_not():
    base = free_port_block(3)
    assert all(is_free(base + k) for k in range(3))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", base + 1))
        taken.listen()
        assert not is_free(base + 1)
        assert not healthy(base + 1, timeout=0.5)  # listening, but no Streamlit health answer


def test_nothing_listening_is_not_healthy():
    assert not healthy(free_port(), timeout=0.5)
