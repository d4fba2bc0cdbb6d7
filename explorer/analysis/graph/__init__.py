"""The layer graph traced from the real module: ``trace`` (torch.fx on the meta device -> nodes and
edges), ``hierarchy`` (stages, modules, branch groups and repeats over them), ``data`` (the
plain-data graph types), ``fold`` (folding stages and repeated blocks into a readable view).

``layer_graph`` is imported from ``trace`` on first use: ``data`` and ``fold`` import no torch, and
the app's first page draws with them before torch is imported.
"""

from typing import Any

from explorer.analysis.graph.data import GraphGroup, GraphNode, LayerGraph

__all__ = ["GraphGroup", "GraphNode", "LayerGraph", "layer_graph"]


def __getattr__(name: str) -> Any:  # PEP 562: a lazy ``layer_graph``
    if name == "layer_graph":
        from explorer.analysis.graph.trace import layer_graph

        return layer_graph
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
