"""The layer graph traced from the real module: ``trace`` (torch.fx on the meta device -> nodes,
edges, stages, blocks and branch groups), ``data`` (the plain-data graph types), ``fold`` (folding
stages and repeated blocks into a readable view)."""

from explorer.analysis.graph.data import GraphGroup, GraphNode, LayerGraph
from explorer.analysis.graph.trace import layer_graph

__all__ = ["GraphGroup", "GraphNode", "LayerGraph", "layer_graph"]
