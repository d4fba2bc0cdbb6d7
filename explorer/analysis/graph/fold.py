"""Folding, layout and DOT export of a :class:`~explorer.analysis.graph.data.LayerGraph` (no torch).

A *view* is the graph seen with some groups unfolded (``expanded``): every node is shown as itself
if all its groups are unfolded, else as its outermost folded group; edges between nodes in the same
folded group vanish and parallel edges merge (their count is kept). The root is always unfolded.

Detail levels: level L unfolds every non-repeat group whose depth is below L (level 1 shows the
stages, level 2 the blocks, the last level every layer); ``unfold_repeats`` also unfolds the
"× N" runs. :func:`auto_detail` picks the most detailed combination that fits a node budget, so
ResNet-18 opens fully unfolded and ResNet-1001 opens with its 333 blocks folded to a few "× N".
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from explorer.analysis.graph.data import GraphGroup, LayerGraph

#: Visible items the default view aims to stay under (legible on a projector, fast in a browser).
DEFAULT_BUDGET = 180


@dataclass(frozen=True)
class ViewItem:
    """A node or a folded group as shown."""

    id: str
    label: str
    #: ``input``, ``output``, ``layer``, ``merge``, ``function`` or ``group``.
    kind: str
    #: Node op (``Conv2d``, ``add``) or, for a group, its module class / ``stage`` / ``repeat``.
    op: str
    name: str
    group_kind: str
    repeat: int
    layers: int
    params: int
    macs: int
    activation_bytes: int
    output_shape: tuple[int, ...]
    rf: int | None
    jump: int | None
    detail: str
    #: The field is the whole input (behind a global pooling; see :class:`GraphNode`).
    whole_input: bool = False

    @property
    def out_channels(self) -> int:
        return self.output_shape[1] if len(self.output_shape) >= 2 else 0


@dataclass(frozen=True)
class Frame:
    """An unfolded group drawn as a box around its visible items."""

    id: str
    label: str
    kind: str
    depth: int
    parent: str | None
    items: tuple[str, ...]


@dataclass(frozen=True)
class GraphView:
    query: str
    items: tuple[ViewItem, ...]
    #: ``(source, target, count)``: ``count`` data edges of the full graph merged into one.
    edges: tuple[tuple[str, str, int], ...]
    frames: tuple[Frame, ...]
    expanded: frozenset[str]

    def item(self, item_id: str) -> ViewItem:
        return next(i for i in self.items if i.id == item_id)

    @property
    def params(self) -> int:
        return sum(i.params for i in self.items)

    @property
    def macs(self) -> int:
        return sum(i.macs for i in self.items)


# -- folding -------------------------------------------------------------------------------------
def _chains(graph: LayerGraph) -> dict[str, list[str]]:
    """Ancestor groups (below the root) of every node, outermost first."""
    cache = graph._lookup().setdefault("chains", {})
    if not cache:
        for node in graph.nodes:
            cache[node.id] = graph.ancestors(node.id)[1:]
    return cache


def _representatives(graph: LayerGraph, expanded: Iterable[str]) -> dict[str, str]:
    open_ = set(expanded)
    reps: dict[str, str] = {}
    for node_id, chain in _chains(graph).items():
        reps[node_id] = next((g for g in chain if g not in open_), node_id)
    return reps


def visible_count(graph: LayerGraph, expanded: Iterable[str]) -> int:
    return len(set(_representatives(graph, expanded).values()))


def all_groups(graph: LayerGraph) -> frozenset[str]:
    return frozenset(g.id for g in graph.groups)


def max_level(graph: LayerGraph) -> int:
    """The level that unfolds every (non-repeat) group."""
    return max((graph.depth(g.id) for g in graph.groups if g.kind != "repeat"), default=0) + 1


def expanded_for(graph: LayerGraph, level: int, unfold_repeats: bool = False) -> frozenset[str]:
    """The groups unfolded at detail ``level`` (see the module docstring)."""
    chosen = {graph.root}
    for group in graph.groups:
        depth = graph.depth(group.id)
        if group.kind == "repeat":
            if unfold_repeats and depth < level:
                chosen.add(group.id)
        elif depth < level:
            chosen.add(group.id)
    return frozenset(chosen)


def has_repeats(graph: LayerGraph) -> bool:
    return any(g.kind == "repeat" for g in graph.groups)


def auto_detail(graph: LayerGraph, budget: int = DEFAULT_BUDGET) -> tuple[int, bool]:
    """The (level, unfold_repeats) showing the most items within ``budget`` (ties: more detail)."""
    best: tuple[int, int, bool] = (visible_count(graph, expanded_for(graph, 1)), 1, False)
    for level in range(1, max_level(graph) + 1):
        for repeats in (False, True) if has_repeats(graph) else (False,):
            count = visible_count(graph, expanded_for(graph, level, repeats))
            if count <= budget and (count, level, repeats) >= best:
                best = (count, level, repeats)
    return best[1], best[2]


def level_name(graph: LayerGraph, level: int) -> str:
    top = max_level(graph)
    if level >= top:
        return "layers"
    kinds = {g.kind for g in graph.groups if g.kind != "repeat" and graph.depth(g.id) == level}
    if level == 1:
        return "stages"
    if "block" in kinds:
        return "blocks"
    return f"depth {level}"


def unfold(graph: LayerGraph, expanded: Iterable[str], group_id: str, repeats: bool = False) -> frozenset[str]:
    """``expanded`` plus ``group_id``, its ancestors and its descendants (repeat runs inside it only
    with ``repeats``): "show me everything in this stage"."""
    chosen = set(expanded) | {group_id} | set(graph.ancestors(group_id))
    stack = [group_id]
    while stack:
        for child in graph.group(stack.pop()).children:
            if graph.is_group(child) and (graph.group(child).kind != "repeat" or repeats):
                chosen.add(child)
                stack.append(child)
    return frozenset(chosen)


def fold(graph: LayerGraph, expanded: Iterable[str] | None = None) -> GraphView:
    """The view of ``graph`` with the groups in ``expanded`` unfolded (None: everything)."""
    open_ = set(all_groups(graph) if expanded is None else expanded) | {graph.root}
    reps = _representatives(graph, open_)
    order: dict[str, int] = {}
    for node in graph.nodes:
        order.setdefault(reps[node.id], node.index)
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for a, b in graph.edges:
        ra, rb = reps[a], reps[b]
        if ra != rb:
            counts[(ra, rb)] += 1
    items = [_item(graph, rep) for rep in sorted(order, key=order.__getitem__)]
    position = {item.id: i for i, item in enumerate(items)}
    edges = tuple(
        (a, b, n) for (a, b), n in sorted(counts.items(), key=lambda e: (position[e[0][1]], position[e[0][0]]))
    )
    frames = []
    for group in graph.groups:
        if group.id == graph.root or group.id not in open_:
            continue
        inside = [i.id for i in items if i.id in _members(graph, group)]
        if inside:
            parent = next((g for g in reversed(graph.ancestors(group.id)) if g != graph.root), None)
            frames.append(
                Frame(group.id, group.label, group.kind, len(graph.ancestors(group.id)), parent, tuple(inside))
            )
    return GraphView(graph.query, tuple(items), edges, tuple(frames), frozenset(open_))


def _members(graph: LayerGraph, group: GraphGroup) -> set[str]:
    """Ids of the nodes and groups at any depth inside ``group``."""
    cache = graph._lookup().setdefault("members", {})
    if group.id not in cache:
        found: set[str] = set()
        stack = list(group.children)
        while stack:
            child = stack.pop()
            found.add(child)
            if graph.is_group(child):
                stack.extend(graph.group(child).children)
        cache[group.id] = found
    return cache[group.id]


def _item(graph: LayerGraph, item_id: str) -> ViewItem:
    if not graph.is_group(item_id):
        n = graph.node(item_id)
        return ViewItem(
            n.id, _node_label(n.op, n.detail), n.kind, n.op, n.name, "", 1, 1, n.params, n.macs,
            n.activation_bytes, n.output_shape, n.rf, n.jump, n.detail, n.whole_input,
        )  # fmt: skip
    group = graph.group(item_id)
    inside = [graph.node(n) for n in group.nodes]
    last = _exit_node(graph, group)
    return ViewItem(
        group.id,
        group.label,
        "group",
        group.type or group.kind,
        group.module or group.label,
        group.kind,
        group.repeat,
        len(inside),
        sum(n.params for n in inside),
        sum(n.macs for n in inside),
        sum(n.activation_bytes for n in inside),
        last.output_shape,
        last.rf,
        last.jump,
        f"{len(inside)} layers",
        last.whole_input,
    )


def _exit_node(graph: LayerGraph, group: GraphGroup):
    """The group's last node whose output leaves the group (what a folded group outputs)."""
    exits = graph._lookup().setdefault("exits", {})
    if not exits:
        chains = _chains(graph)
        for a, b in graph.edges:
            index = graph.node(a).index
            for g in set(chains[a]) - set(chains[b]):
                if g not in exits or graph.node(exits[g]).index < index:
                    exits[g] = a
    return graph.node(exits.get(group.id, group.nodes[-1]))


_SHORT = {
    "Conv2d": "conv",
    "SameConv2d": "conv same-pad",  # EfficientNet-Lite's strided convs (TensorFlow's padding)
    "DeformConv2d": "deform conv",
    "BatchNorm2d": "bn",
    "MaxPool2d": "max pool",
    "AvgPool2d": "avg pool",
    "AdaptiveAvgPool2d": "avg pool",
    "adaptive_avg_pool2d": "avg pool",
    "Linear": "fc",
    "add": "+",
    "mul": "×",
    "cat": "concat",
}


def _node_label(op: str, detail: str) -> str:
    short = _SHORT.get(op, op.lower() if op[:1].isupper() else op)
    if op in ("Conv2d", "SameConv2d", "DeformConv2d", "MaxPool2d", "AvgPool2d") and detail:
        return f"{short} {detail}"
    return short


# -- layout --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Layout:
    """Positions along the flow (``pos``, fractional ranks) and across it (``lane``, 0 = main path)."""

    pos: dict[str, float]
    lane: dict[str, float]
    #: Edges drawn as arcs over the main path (skip connections): (source, target) -> arc height.
    arcs: dict[tuple[str, str], float]
    length: float
    width: float


def layout(view: GraphView) -> Layout:
    """Layered layout: longest-path ranks; the longest path on lane 0; side branches centred between
    where they leave and rejoin, on lanes 1, 2, ...; long edges between lane-0 items become arcs."""
    ids = [i.id for i in view.items]
    order = {item_id: k for k, item_id in enumerate(ids)}
    preds: dict[str, list[str]] = defaultdict(list)
    succs: dict[str, list[str]] = defaultdict(list)
    for a, b, _ in view.edges:
        if order[a] < order[b]:  # folding can, rarely, point an edge backwards: ignore it for ranks
            preds[b].append(a)
            succs[a].append(b)
    rank: dict[str, int] = {}
    for item_id in ids:
        rank[item_id] = max((rank[p] + 1 for p in preds[item_id]), default=0)
    # the main path: back from the deepest item along predecessors one rank up
    main: set[str] = set()
    current: str | None = max(ids, key=lambda i: (rank[i], -order[i])) if ids else None
    while current is not None:
        main.add(current)
        options = [p for p in preds[current] if rank[p] == rank[current] - 1]
        current = min(options, key=order.__getitem__) if options else None
    pos: dict[str, float] = {i: float(rank[i]) for i in main}
    lane: dict[str, float] = {i: 0.0 for i in main}
    occupied: dict[int, list[tuple[float, float]]] = defaultdict(list)
    done: set[str] = set(main)
    for item_id in ids:
        if item_id in done:
            continue
        chain = [item_id]
        while True:
            tail = chain[-1]
            nxt = succs[tail]
            if len(nxt) == 1 and nxt[0] not in done and nxt[0] not in main and len(preds[nxt[0]]) == 1:
                chain.append(nxt[0])
            else:
                break
        start = max((pos.get(p, float(rank[p])) for p in preds[chain[0]]), default=rank[chain[0]] - 1.0)
        ends = [pos.get(s, float(rank[s])) for s in succs[chain[-1]]]
        end = min(ends) if ends else start + len(chain) + 1.0
        if end - start < len(chain) + 1:
            end = start + len(chain) + 1.0
        step = (end - start) / (len(chain) + 1)
        level = 1
        while any(not (end <= lo or start >= hi) for lo, hi in occupied[level]):
            level += 1
        occupied[level].append((start, end))
        for k, member in enumerate(chain):
            pos[member] = start + step * (k + 1)
            lane[member] = float(level)
            done.add(member)
    arcs: dict[tuple[str, str], float] = {}
    for a, b, _ in view.edges:
        span = abs(pos[b] - pos[a])
        if lane[a] == 0 and lane[b] == 0 and span > 1.01:
            arcs[(a, b)] = min(0.55 + 0.3 * math.log2(span), 3.0)
    length = max(pos.values(), default=0.0)
    width = max([*lane.values(), *arcs.values()], default=0.0)
    return Layout(pos, lane, arcs, length, width)


# -- DOT -----------------------------------------------------------------------------------------
def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def to_dot(view: GraphView, rankdir: str = "LR") -> str:
    """Graphviz DOT of a view: unfolded groups as nested clusters, folded ones as boxes ("× N")."""
    from explorer.formatting import human_count, shape_text

    by_frame: dict[str | None, list[str]] = defaultdict(list)
    frame_of: dict[str, str] = {}
    frames = {f.id: f for f in view.frames}
    for frame in sorted(view.frames, key=lambda f: f.depth):
        for item_id in frame.items:
            frame_of[item_id] = frame.id  # deeper frames overwrite shallower ones
    for item in view.items:
        by_frame[frame_of.get(item.id)].append(item.id)
    children: dict[str | None, list[str]] = defaultdict(list)
    for frame in view.frames:
        children[frame.parent if frame.parent in frames else None].append(frame.id)
    items = {i.id: i for i in view.items}
    lines = [
        f"digraph {_dot_quote(view.query)} {{",
        f"  rankdir={rankdir};",
        '  node [fontname="Helvetica", fontsize=10];',
        '  edge [color="#555555"];',
    ]

    def node_line(item: ViewItem, indent: str) -> str:
        shape = {"group": "box3d", "merge": "circle", "input": "invhouse", "output": "house"}.get(item.kind, "box")
        text = item.label if item.kind != "group" else item.label.replace(" · ", "\\n")
        if item.output_shape:
            text += f"\\n{shape_text(item.output_shape[1:])}"
        if item.params:
            text += f"\\n{human_count(item.params)} params"
        label = _dot_quote(text).replace("\\\\n", "\\n")
        style = ', style="rounded,filled", fillcolor="#dbe8f6"' if item.kind != "merge" else ', fillcolor="#fde2c4"'
        if item.kind == "merge":
            style = ', style=filled, fillcolor="#fde2c4"'
        return f"{indent}{_dot_quote(item.id)} [label={label}, shape={shape}{style}];"

    def emit(frame_id: str | None, indent: str) -> None:
        for item_id in by_frame.get(frame_id, []):
            lines.append(node_line(items[item_id], indent))
        for child in children.get(frame_id, []):
            frame = frames[child]
            lines.append(f"{indent}subgraph {_dot_quote('cluster_' + child)} {{")
            lines.append(f'{indent}  label={_dot_quote(frame.label)}; style="rounded"; color="#9aa7b8";')
            emit(child, indent + "  ")
            lines.append(f"{indent}}}")

    emit(None, "  ")
    for a, b, count in view.edges:
        attrs = f" [label={_dot_quote('×' + str(count))}]" if count > 1 else ""
        lines.append(f"  {_dot_quote(a)} -> {_dot_quote(b)}{attrs};")
    lines.append("}")
    return "\n".join(lines) + "\n"
