"""The layer graph's groups: root -> stage (the builder's :class:`~explorer.families.Stage` list) ->
module (every module holding two or more nodes) -> branch, with identical consecutive blocks folded
as repeats. Reads a traced model (:class:`Traced`: nodes, edges, and the module each node lives in)
and returns plain :class:`GraphGroup` data."""

from __future__ import annotations

import dataclasses
import itertools
import re
from collections import defaultdict
from typing import TYPE_CHECKING, Protocol

from explorer.analysis.graph.data import GraphGroup, GraphNode
from explorer.families import BuiltModel

if TYPE_CHECKING:
    from torch import nn

__all__ = ["ROOT", "Traced", "hierarchy"]

#: The root group's id.
ROOT = "model"


class Traced(Protocol):
    """What the hierarchy reads of a trace (:func:`explorer.analysis.graph.trace.layer_graph`'s)."""

    built: BuiltModel
    modules: dict[str, nn.Module]
    nodes: list[GraphNode]
    nodes_by_id: dict[str, GraphNode]
    #: node id -> the module path it lives in ("" at the root)
    paths: dict[str, str]
    edges: list[tuple[str, str]]


def _prefixes(path: str) -> list[str]:
    parts = path.split(".") if path else []
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def _stage_for(built: BuiltModel, path: str) -> str | None:
    if not path:
        return None
    try:
        return built.stage_of(path).name
    except KeyError:
        return None


def hierarchy(builder: Traced) -> tuple[GraphGroup, ...]:
    built, nodes = builder.built, builder.nodes
    preds: dict[str, list[str]] = defaultdict(list)
    succs: dict[str, list[str]] = defaultdict(list)
    for a, b in builder.edges:
        preds[b].append(a)
        succs[a].append(b)

    # stage of every node; root-level ops join the stage of the data they consume (or feed)
    stage_of: dict[str, str | None] = {}
    for node in nodes:
        path = builder.paths[node.id] if node.kind != "layer" else node.name
        stage_of[node.id] = None if node.kind in ("input", "output") else _stage_for(built, path)
    for node in nodes:
        if stage_of[node.id] is None and node.kind not in ("input", "output"):
            near = [stage_of[p] for p in preds[node.id] if stage_of.get(p)]
            stage_of[node.id] = near[0] if near else built.stages[-1].name
    stage_order = [s.name for s in built.stages]

    # candidate module groups: the prefixes of each node's containing path, kept when they hold 2+
    # nodes, all in one stage, and are not the same set as an enclosing candidate or the stage
    members: dict[str, list[str]] = defaultdict(list)
    for node in nodes:
        for prefix in _prefixes(builder.paths[node.id]):
            members[prefix].append(node.id)
    stage_members: dict[str, list[str]] = defaultdict(list)
    for node in nodes:
        stage = stage_of[node.id]
        if stage is not None:
            stage_members[stage].append(node.id)

    # a prefix's nodes are nested in every enclosing prefix's (and in the stage's, when it is within
    # one stage), so "the same set" is "the same size"
    single_stage = {prefix: len({stage_of[n] for n in inside}) == 1 for prefix, inside in members.items()}
    chains: dict[str, list[str]] = {}
    for node in nodes:
        stage = stage_of[node.id]
        if stage is None:
            chains[node.id] = []
            continue
        chain = [f"stage:{stage}"]
        previous = len(stage_members[stage])
        for prefix in _prefixes(builder.paths[node.id]):
            size = len(members[prefix])
            if size < 2 or not single_stage[prefix] or size == previous:
                continue
            chain.append(f"g:{prefix}")
            previous = size
        chains[node.id] = chain

    children: dict[str, list[str]] = defaultdict(list)
    group_nodes: dict[str, list[str]] = defaultdict(list)
    parent_of: dict[str, str] = {}
    for node in nodes:
        chain = [ROOT, *chains[node.id]]
        for upper, lower in itertools.pairwise(chain):
            if lower not in parent_of:
                parent_of[lower] = upper
                children[upper].append(lower)
        children[chain[-1]].append(node.id)
        for group in chain:
            group_nodes[group].append(node.id)
    children[ROOT].sort(key=lambda c: _rank(c, stage_order, group_nodes, builder))

    blocks = {b for s in built.stages for b in s.blocks}
    groups: dict[str, GraphGroup] = {}
    for gid, nodes_in in group_nodes.items():
        if gid == ROOT:
            label, kind, module, type_name = builder.built.config.title, "root", "", type(built.module).__name__
        elif gid.startswith("stage:"):
            label, kind, module, type_name = gid[6:], "stage", "", ""
        else:
            module = gid[2:]
            type_name = type(builder.modules[module]).__name__
            kind = "block" if module in blocks else "module"
            label = f"{module} · {type_name}"
        groups[gid] = GraphGroup(
            gid, label, kind, parent_of.get(gid), tuple(children[gid]), tuple(nodes_in), module, type_name
        )
    _branch_groups(groups, builder, preds, succs)
    _fold_repeats(groups, builder.nodes_by_id, builder.edges, preds, succs)
    return tuple(sorted(groups.values(), key=lambda g: (builder.nodes_by_id[g.nodes[0]].index, -len(g.nodes))))


_BRANCH_SUFFIX = re.compile(r"_[0-9]+[a-z]?$")


def _branch_groups(
    groups: dict[str, GraphGroup], builder: Traced, preds: dict[str, list[str]], succs: dict[str, list[str]]
) -> None:
    """Show an Inception module's parallel branches, each as one ``branch`` group, beside the
    concatenation that joins them.

    An Inception module is a module with two or more ``branch*`` children. GoogLeNet's branches are
    modules already (``branch2`` = 1x1 then 3x3): their groups become kind ``branch``. Inception-v3
    writes a branch as sibling modules (``branch5x5_1``, ``branch5x5_2``): those with one name but
    for the ``_<n>`` suffix are gathered into a new group ``b:<module>.branch5x5``, together with the
    functional ops that only feed or only consume that branch (the average pool before
    ``branch_pool``, the inner concatenation of Inception-E's split 1x3/3x1 branches).
    """
    order = {n.id: n.index for n in builder.nodes}
    owner = {child: g.id for g in groups.values() for child in g.children}
    for path, module in builder.modules.items():
        names = [name for name, _ in module.named_children() if name.startswith("branch")]
        found = [f"g:{path}.{name}" if path else f"g:{name}" for name in names]
        present = [gid for gid in found if gid in groups]
        if len(names) < 2 or not present:
            continue
        container = groups[owner[present[0]]]
        key_of = {gid: _BRANCH_SUFFIX.sub("", name) for gid, name in zip(found, names, strict=True)}
        prefix = f"{path}." if path else ""
        branch_of: dict[str, str] = {}  # child id -> branch name
        for child in container.children:
            if child in key_of:
                branch_of[child] = key_of[child]
            elif child not in groups and builder.nodes_by_id[child].name.startswith(prefix):
                first = builder.nodes_by_id[child].name[len(prefix) :].split(".")[0]
                if first in names:  # a one-layer branch whose group was not needed
                    branch_of[child] = _BRANCH_SUFFIX.sub("", first)
        members: dict[str, set[str]] = defaultdict(set)  # branch -> every node inside
        for child, branch in branch_of.items():
            members[branch] |= set(groups[child].nodes) if child in groups else {child}
        changed = True
        while changed:  # ops between branch layers join the branch they only feed or only consume
            changed = False
            for child in container.children:
                if child in branch_of or child in groups:
                    continue
                for branch, inside in members.items():
                    feeds = succs[child] and all(s in inside for s in succs[child])
                    if all(p in inside for p in preds[child]) or feeds:
                        branch_of[child], changed = branch, True
                        inside.add(child)
                        break
        by_branch: dict[str, list[str]] = defaultdict(list)
        for child in container.children:
            if child in branch_of:
                by_branch[branch_of[child]].append(child)
        new_children: list[str] = []
        for child in container.children:
            owning_branch = branch_of.get(child)
            if owning_branch is None:
                new_children.append(child)
                continue
            branch = owning_branch
            parts = by_branch[branch]
            if len(parts) == 1 and child in groups:  # already one module: just call it a branch
                groups[child] = dataclasses.replace(groups[child], kind="branch")
                new_children.append(child)
            elif child == parts[0]:
                bid = f"b:{prefix}{branch}"
                within = tuple(sorted(members[branch], key=order.__getitem__))
                for part in parts:
                    if part in groups:
                        groups[part] = dataclasses.replace(groups[part], parent=bid)
                groups[bid] = GraphGroup(
                    bid, f"{prefix}{branch} · branch", "branch", container.id, tuple(parts), within
                )
                new_children.append(bid)
        groups[container.id] = dataclasses.replace(container, children=tuple(new_children))


def _rank(child: str, stage_order: list[str], group_nodes: dict[str, list[str]], builder: Traced) -> tuple:
    if child == "input":
        return (-1, 0)
    if child == "output":
        return (len(stage_order) + 1, 0)
    if child.startswith("stage:"):
        return (stage_order.index(child[6:]), 0)
    return (len(stage_order), builder.nodes_by_id[child].index)


def _signature(group: GraphGroup, nodes: dict[str, GraphNode], preds: dict[str, list[str]]) -> tuple:
    position = {n: i for i, n in enumerate(group.nodes)}
    ops = tuple(
        (nodes[n].op, nodes[n].detail, nodes[n].output_shape, nodes[n].params, nodes[n].macs) for n in group.nodes
    )
    inner = tuple(sorted((position[p], position[n]) for n in group.nodes for p in preds[n] if p in position))
    return (group.type, ops, inner)


def _fold_repeats(
    groups: dict[str, GraphGroup],
    nodes: dict[str, GraphNode],
    edges: list[tuple[str, str]],
    preds: dict[str, list[str]],
    succs: dict[str, list[str]],
) -> None:
    """Wrap runs of identical, chained sibling groups in ``repeat`` groups (in place)."""
    for gid in list(groups):
        group = groups[gid]
        kids = list(group.children)
        runs: list[tuple[int, int]] = []
        i = 0
        while i < len(kids):
            j = i
            if kids[i] in groups and groups[kids[i]].kind in ("block", "module"):
                sig = _signature(groups[kids[i]], nodes, preds)
                while (
                    j + 1 < len(kids)
                    and kids[j + 1] in groups
                    and groups[kids[j + 1]].kind in ("block", "module")
                    and _chained(groups[kids[j]], groups[kids[j + 1]], preds, succs)
                    and _signature(groups[kids[j + 1]], nodes, preds) == sig
                ):
                    j += 1
            if j > i:
                runs.append((i, j))
            i = j + 1
        if not runs:
            continue
        new_children: list[str] = []
        cursor = 0
        for start, end in runs:
            new_children.extend(kids[cursor:start])
            run = kids[start : end + 1]
            first, last = groups[run[0]], groups[run[-1]]
            rid = f"rep:{first.module}..{last.module}"
            tail = last.module.rsplit(".", 1)[-1]
            label = f"{first.module}–{tail} · {first.type} × {len(run)}"
            run_nodes = tuple(n for k in run for n in groups[k].nodes)
            groups[rid] = GraphGroup(rid, label, "repeat", gid, tuple(run), run_nodes, "", first.type, len(run))
            for k in run:
                groups[k] = _replace_parent(groups[k], rid)
            new_children.append(rid)
            cursor = end + 1
        new_children.extend(kids[cursor:])
        groups[gid] = GraphGroup(
            group.id, group.label, group.kind, group.parent, tuple(new_children), group.nodes, group.module,
            group.type, group.repeat,
        )  # fmt: skip


def _replace_parent(group: GraphGroup, parent: str) -> GraphGroup:
    return GraphGroup(
        group.id, group.label, group.kind, parent, group.children, group.nodes, group.module, group.type, group.repeat
    )


def _chained(a: GraphGroup, b: GraphGroup, preds: dict[str, list[str]], succs: dict[str, list[str]]) -> bool:
    """True if everything entering ``b`` comes from ``a`` and everything leaving ``a`` goes to ``b``."""
    in_a, in_b = set(a.nodes), set(b.nodes)
    into_b = {p for n in b.nodes for p in preds[n] if p not in in_b}
    out_of_a = {s for n in a.nodes for s in succs[n] if s not in in_a}
    return bool(into_b) and into_b <= in_a and out_of_a <= in_b
