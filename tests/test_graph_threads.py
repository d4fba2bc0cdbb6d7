"""The layer graph traces with torch.fx, which patches ``nn.Module.__call__`` for the whole process while
it traces: a forward that another thread runs meanwhile (another session, the server's warm-up) must
neither fail nor disturb the trace (seen: "module is not installed as a submodule" on the Inside page)."""

from __future__ import annotations

import threading

import torch

from explorer.analysis.graph import layer_graph
from explorer.config import parse_query
from explorer.runtime.models import build_seeded


def test_a_forward_in_another_thread_while_a_graph_is_traced(single_thread) -> None:
    config = parse_query("preset=resnet20")
    expected = len(layer_graph(config).nodes)
    other = build_seeded(parse_query("family=plain&depth=4&width=8&resolution=16"), seed=0).module.eval()
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        reference = other(x)
    stop, errors, forwards = threading.Event(), [], [0]

    def forward_loop() -> None:
        try:
            while not stop.is_set():
                with torch.no_grad():
                    assert torch.equal(other(x), reference)
                forwards[0] += 1
        except BaseException as error:  # surfaced below
            errors.append(error)

    thread = threading.Thread(target=forward_loop)
    thread.start()
    try:
        sizes = [len(layer_graph(config).nodes) for _ in range(8)]
    finally:
        stop.set()
        thread.join()
    assert not errors, errors
    assert sizes == [expected] * 8 and forwards[0] > 0
