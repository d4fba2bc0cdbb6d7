"""The layer graph as plain data: nodes (one per layer or op of the traced model), data edges, and a
hierarchy of groups (stages, blocks, sub-modules, and runs of identical blocks folded as "x N").

No torch here: :mod:`explorer.analysis.graph` fills these classes from a traced model, and the
folding, layout and plotting modules read them.

Per-node numbers follow the project's convention: ``params`` are the node's own parameters,
``macs`` its multiply-adds at batch 1 (convolutions, linear layers, deformable sampling; BN,
activations, pooling, additions and concatenations count zero), ``activation_bytes`` the size of
its output tensor at batch 1 in float32. ``rf`` is the theoretical receptive field (input pixels
along one side that can influence one output pixel) and ``jump`` the distance in input pixels
between neighbouring output pixels; both are None for nodes without a spatial meaning.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from explorer.measure.profile_data import BYTES_PER_VALUE

__all__ = ["BYTES_PER_VALUE", "GraphGroup", "GraphNode", "LayerGraph"]


@dataclass(frozen=True)
class GraphNode:
    """One layer (a leaf module's call) or one functional op (add, cat, flatten, ...) of the model."""

    id: str
    #: The module path for a layer (``layer1.0.conv1``), else the op's place (``layer1.0: add``).
    name: str
    #: Module class (``Conv2d``) or op name (``add``, ``cat``, ``flatten``); ``input`` / ``output``.
    op: str
    #: ``input``, ``output``, ``layer`` (a module), ``merge`` (add, cat, mul) or ``function``.
    kind: str
    #: Position in execution order (a topological order of the graph).
    index: int
    output_shape: tuple[int, ...]
    params: int
    macs: int
    activation_bytes: int
    rf: int | None
    jump: int | None
    #: Short description of the layer's geometry, e.g. ``3x3 /2`` for a strided 3x3 conv.
    detail: str = ""
    #: Behind a global pooling (a classifier's head, squeeze-excitation's scale): every unit sees the
    #: whole input, and ``rf`` is its side.
    whole_input: bool = False

    @property
    def out_channels(self) -> int:
        return self.output_shape[1] if len(self.output_shape) >= 2 else 0


@dataclass(frozen=True)
class GraphGroup:
    """A foldable part of the graph: the model (root), a stage, a block, a module inside a block,
    or a run of identical consecutive blocks (``kind="repeat"``, shown folded as "x N")."""

    id: str
    label: str
    kind: str
    parent: str | None
    #: Ids of child groups and nodes, in execution order.
    children: tuple[str, ...]
    #: Every node inside, at any depth, in execution order.
    nodes: tuple[str, ...]
    #: The module path the group stands for ("" for the root, stages and repeats).
    module: str = ""
    #: The module class (``Bottleneck``) where the group is one module.
    type: str = ""
    #: For repeats: how many identical blocks the run holds.
    repeat: int = 1


@dataclass(frozen=True)
class LayerGraph:
    """Nodes, edges and groups of one config's model (see the module docstring)."""

    query: str
    family: str
    resolution: int
    nodes: tuple[GraphNode, ...]
    #: ``(source id, target id)`` pairs, one per data dependency, sorted by target then source.
    edges: tuple[tuple[str, str], ...]
    groups: tuple[GraphGroup, ...]
    root: str = "model"
    _index: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False, hash=False)

    # -- look-ups ------------------------------------------------------------------------------
    def _lookup(self) -> dict[str, Any]:
        if not self._index:
            self._index["node"] = {n.id: n for n in self.nodes}
            self._index["group"] = {g.id: g for g in self.groups}
            parent: dict[str, str] = {}
            for g in self.groups:
                for child in g.children:
                    parent[child] = g.id
            self._index["parent"] = parent
        return self._index

    def node(self, node_id: str) -> GraphNode:
        return self._lookup()["node"][node_id]

    def group(self, group_id: str) -> GraphGroup:
        return self._lookup()["group"][group_id]

    def is_group(self, item_id: str) -> bool:
        return item_id in self._lookup()["group"]

    def parent(self, item_id: str) -> str | None:
        return self._lookup()["parent"].get(item_id)

    def ancestors(self, item_id: str) -> list[str]:
        """Group ids from the root down to the item's parent."""
        chain: list[str] = []
        parent = self.parent(item_id)
        while parent is not None:
            chain.append(parent)
            parent = self.parent(parent)
        return chain[::-1]

    def depth(self, group_id: str) -> int:
        """Non-repeat groups above this one (the root has depth 0, stages 1, blocks 2, ...)."""
        return sum(1 for g in self.ancestors(group_id) if self.group(g).kind != "repeat")

    def by_op(self, op: str) -> list[GraphNode]:
        return [n for n in self.nodes if n.op == op]

    def in_group(self, group_id: str) -> list[GraphNode]:
        return [self.node(n) for n in self.group(group_id).nodes]

    def find_group(self, module: str) -> GraphGroup:
        """The group that stands for a module path (e.g. ``layer1.0``)."""
        for g in self.groups:
            if g.module == module:
                return g
        raise KeyError(f"no group for module '{module}'")

    def edges_within(self, group_id: str) -> list[tuple[str, str]]:
        inside = set(self.group(group_id).nodes)
        return [(a, b) for a, b in self.edges if a in inside and b in inside]

    @property
    def params(self) -> int:
        return sum(n.params for n in self.nodes)

    @property
    def macs(self) -> int:
        return sum(n.macs for n in self.nodes)

    # -- serialisation ---------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "family": self.family,
            "resolution": self.resolution,
            "root": self.root,
            "nodes": [asdict(n) | {"output_shape": list(n.output_shape)} for n in self.nodes],
            "edges": [list(e) for e in self.edges],
            "groups": [asdict(g) | {"children": list(g.children), "nodes": list(g.nodes)} for g in self.groups],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LayerGraph:
        nodes = tuple(GraphNode(**(n | {"output_shape": tuple(n["output_shape"])})) for n in data["nodes"])
        groups = tuple(
            GraphGroup(**(g | {"children": tuple(g["children"]), "nodes": tuple(g["nodes"])})) for g in data["groups"]
        )
        edges = tuple((a, b) for a, b in data["edges"])
        return cls(data["query"], data["family"], data["resolution"], nodes, edges, groups, data["root"])
