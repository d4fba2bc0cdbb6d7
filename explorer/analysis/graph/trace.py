"""The layer graph of a config, traced from the real module with ``torch.fx``.

Every leaf module call becomes a node and every functional op on tensors (the ``+`` of a residual
block, the ``torch.cat`` of a dense block, the ``*`` of a squeeze-and-excitation branch, flatten)
becomes a node too; every data dependency becomes an edge. Pass-through modules (``nn.Identity``,
stochastic depth, which is the identity at inference) are spliced out.

A :class:`~explorer.families.nets.deformable.DeformableConv2d` is traced as a leaf and shown as what it
is: two nodes, its ``offset_conv`` (an ordinary conv predicting 2·k·k offset channels) and the
deformable sampling conv, with edges input -> offset_conv -> sampling and input -> sampling, in a
group of their own.

Shapes and MACs come from running each node on the ``meta`` device inside
:func:`explorer.measure.counting.counting` (FlopCounterMode's formulas without its process-wide
module hooks; the convention of :mod:`explorer.measure.flops`), memoised by (module settings, input shapes):
the 333 identical-looking blocks of ResNet-1001 cost a handful of distinct calls, not thousands.

Hierarchy: root -> stage (from the builder's :class:`~explorer.families.Stage` list) -> the
modules inside it that hold at least two nodes and differ from their parent (blocks, sub-modules
such as a squeeze-and-excitation) -> nodes. Consecutive sibling groups that are identical (same
ops, shapes, parameters and internal edges) and chained (each feeds only the next) are wrapped in
a ``repeat`` group, shown folded as "× N".
"""

from __future__ import annotations

import dataclasses
import itertools
import operator
import re
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import torch
import torch.fx as fx
from torch import Tensor, nn

from explorer.analysis.graph.data import BYTES_PER_VALUE, GraphGroup, GraphNode, LayerGraph
from explorer.families import BuiltModel, build
from explorer.families.nets.deformable import DeformableConv2d
from explorer.families.nets.efficientnet import SameConv2d
from explorer.knobs import ModelConfig, format_query
from explorer.measure.counting import counting
from explorer.measure.hooks import hooked

__all__ = ["GraphGroup", "GraphNode", "LayerGraph", "layer_graph"]

ROOT = "model"
#: Modules traced as one node although fx could look inside (their forward inspects shapes).
LEAF_TYPES: tuple[type[nn.Module], ...] = (DeformableConv2d, SameConv2d)
#: Function names that are the identity at inference (spliced out like nn.Identity).
PASS_THROUGH_FUNCTIONS = {"stochastic_depth"}
_OP_NAMES: dict[Any, str] = {
    operator.add: "add",
    operator.iadd: "add",
    torch.add: "add",
    operator.mul: "mul",
    operator.imul: "mul",
    torch.mul: "mul",
    torch.cat: "cat",
    torch.flatten: "flatten",
}
_MERGES = {"add", "cat", "mul"}


class _Tracer(fx.Tracer):
    """fx tracer that keeps explorer's own shape-inspecting modules as leaves."""

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        if isinstance(m, LEAF_TYPES) or type(m).__name__ == "PadShortcut":
            return True
        return super().is_leaf_module(m, module_qualified_name)


def _op_name(target: Any) -> str:
    if target in _OP_NAMES:
        return _OP_NAMES[target]
    return getattr(target, "__name__", str(target)).strip("_")


def _first(value: Any) -> int:
    return int(value[0] if isinstance(value, (tuple, list)) else value)


def _module_key(module: nn.Module) -> tuple[Any, ...]:
    """What decides a leaf module's output shape and MACs: its class, settings and tensor shapes."""
    plain = (int, float, bool, str, tuple, type(None))
    settings = tuple(sorted((k, v) for k, v in vars(module).items() if not k.startswith("_") and isinstance(v, plain)))
    tensors = tuple((n, tuple(t.shape)) for n, t in [*module.named_parameters(), *module.named_buffers()])
    return (type(module), settings, tensors)


def _freeze(value: Any) -> Any:
    """A hashable stand-in for call arguments (tensors by shape); raises TypeError if impossible."""
    if isinstance(value, Tensor):
        return ("tensor", tuple(value.shape), value.dtype)
    if isinstance(value, (tuple, list)):
        return (type(value).__name__, tuple(_freeze(v) for v in value))
    if isinstance(value, dict):
        return ("dict", tuple(sorted((k, _freeze(v)) for k, v in value.items())))
    if isinstance(value, slice):  # x[:, 0] (GoogLeNet's input transform); slices hash only from Python 3.12
        return ("slice", _freeze(value.start), _freeze(value.stop), _freeze(value.step))
    hash(value)
    return value


class _Runner:
    """Runs nodes on meta tensors, memoising output shapes and MACs by what determines them."""

    def __init__(self) -> None:
        self.memo: dict[Any, tuple[Any, int]] = {}

    def run(self, key: Any, call: Callable[[], Any]) -> tuple[Any, int]:
        try:
            hit = self.memo.get(key)
        except TypeError:  # unhashable key: just run it
            key, hit = None, None
        if hit is not None:
            shape_spec, macs = hit
            return _rebuild(shape_spec), macs
        with counting() as counter:
            out = call()
        macs = counter.total // 2
        if key is not None:
            self.memo[key] = (_spec(out), macs)
        return out, macs


def _spec(value: Any) -> Any:
    if isinstance(value, Tensor):
        return ("tensor", tuple(value.shape), value.dtype)
    if isinstance(value, (tuple, list)):
        return (type(value).__name__, [_spec(v) for v in value])
    return ("value", value)


def _rebuild(spec: Any) -> Any:
    if spec[0] == "tensor":
        return torch.empty(spec[1], dtype=spec[2], device="meta")
    if spec[0] in ("tuple", "list"):
        items = [_rebuild(s) for s in spec[1]]
        return tuple(items) if spec[0] == "tuple" else items
    return spec[1]


def _geometry(module: nn.Module | None, op: str, in_shape: tuple[int, ...], out_shape: tuple[int, ...]):
    """(kernel, stride, dilation) along one side for the receptive-field recursion, and a detail text."""
    spatial = len(in_shape) == 4 and len(out_shape) == 4
    if module is not None and hasattr(module, "kernel_size") and hasattr(module, "stride"):
        k, s = _first(module.kernel_size), _first(module.stride or module.kernel_size)
        d = _first(getattr(module, "dilation", 1))
        text = f"{k}x{k}" + (f" /{s}" if s > 1 else "") + (f" dil {d}" if d > 1 else "")
        groups = getattr(module, "groups", 1)
        if groups > 1:
            text += " depthwise" if groups == in_shape[1] == out_shape[1] else f" g={groups}"
        return k, s, d, text
    if not spatial:
        if isinstance(module, nn.Linear):
            return 1, 1, 1, f"{module.in_features}→{module.out_features}"
        return 1, 1, 1, ""
    h_in, h_out = in_shape[2], out_shape[2]
    if "adaptive" in op.lower() or "Adaptive" in op:
        s = max(1, h_in // max(1, h_out))
        k = h_in - (h_out - 1) * s
        return k, s, 1, f"global {k}x{k}" if h_out == 1 else f"→{h_out}x{h_out}"
    if h_out < h_in:
        s = max(1, round(h_in / h_out))
        return 1, s, 1, f"/{s}"
    return 1, 1, 1, ""


class _Builder:
    """Turns a traced graph into :class:`GraphNode` s and edges (see the module docstring)."""

    def __init__(self, built: BuiltModel) -> None:
        self.built = built
        self.modules = dict(built.module.named_modules())
        self.nodes: list[GraphNode] = []
        self.paths: dict[str, str] = {}  # node id -> module path it lives in ("" at the root)
        self.edges: list[tuple[str, str]] = []
        self.alias: dict[fx.Node, list[str]] = {}  # fx node -> our node ids that carry its value
        self.geo: dict[str, tuple[int, int]] = {}  # node id -> (rf, jump)

    def add(
        self,
        node_id: str,
        name: str,
        op: str,
        kind: str,
        path: str,
        inputs: list[str],
        out: Any,
        params: int,
        macs: int,
        module: nn.Module | None,
    ) -> None:
        shape = tuple(out.shape) if isinstance(out, Tensor) else ()
        in_shapes = [self.nodes_by_id[i].output_shape for i in inputs] if inputs else []
        in_shape = max(in_shapes, key=len) if in_shapes else ()
        k, s, d, detail = _geometry(module, op, in_shape, shape)
        rf: int | None
        jump: int | None
        if kind == "input":
            rf, jump = 1, 1
        else:
            known = [self.geo[i] for i in inputs if i in self.geo]
            if known:
                rf_in, jump_in = max(known)
                rf, jump = rf_in + (d * (k - 1)) * jump_in, jump_in * s
            else:
                rf = jump = None
        node = GraphNode(
            id=node_id,
            name=name,
            op=op,
            kind=kind,
            index=len(self.nodes),
            output_shape=shape,
            params=params,
            macs=macs,
            activation_bytes=(out.numel() * BYTES_PER_VALUE) if isinstance(out, Tensor) else 0,
            rf=rf,
            jump=jump,
            detail=detail,
        )
        self.nodes.append(node)
        self.nodes_by_id[node_id] = node
        self.paths[node_id] = path
        if rf is not None and jump is not None:
            self.geo[node_id] = (rf, jump)
        for source in dict.fromkeys(inputs):
            self.edges.append((source, node_id))

    nodes_by_id: dict[str, GraphNode]

    def inputs_of(self, node: fx.Node) -> list[str]:
        ids: list[str] = []
        for parent in node.all_input_nodes:
            ids.extend(self.alias.get(parent, []))
        return list(dict.fromkeys(ids))

    def trace(self, config: ModelConfig) -> None:
        self.nodes_by_id = {}
        model = self.built.module
        with hooked(model, training=False):
            graph = _Tracer().trace(model)
        resolution = config.input_resolution
        env: dict[fx.Node, Any] = {}
        runner = _Runner()
        with torch.no_grad(), hooked(model, training=False):
            for fx_node in graph.nodes:
                self.visit(fx_node, env, runner, config, resolution)

    def visit(self, fx_node: fx.Node, env: dict[fx.Node, Any], runner: _Runner, config: ModelConfig, res: int) -> None:
        args = fx.node.map_arg(fx_node.args, lambda n: env[n])
        kwargs = fx.node.map_arg(fx_node.kwargs, lambda n: env[n])
        inputs = self.inputs_of(fx_node)
        if fx_node.op == "placeholder":
            out = torch.zeros(1, config.in_channels, res, res, device="meta")
            env[fx_node] = out
            self.add("input", "input", "input", "input", "", [], out, 0, 0, None)
            self.alias[fx_node] = ["input"]
            return
        if fx_node.op == "output":
            env[fx_node] = args[0]
            self.add("output", "output", "output", "output", "", inputs, args[0], 0, 0, None)
            return
        if fx_node.op == "get_attr":
            env[fx_node] = operator.attrgetter(str(fx_node.target))(self.built.module)
            self.alias[fx_node] = []
            return
        if fx_node.op == "call_module":
            path = str(fx_node.target)
            module = self.modules[path]
            if isinstance(module, DeformableConv2d):
                self.visit_deformable(fx_node, path, module, args, env, runner, inputs)
                return
            out, macs = runner.run(
                (_module_key(module), _freeze(args), _freeze(kwargs)), lambda: module(*args, **kwargs)
            )
            env[fx_node] = out
            if isinstance(module, nn.Identity):
                self.alias[fx_node] = inputs
                return
            params = sum(p.numel() for p in module.parameters())
            self.add(
                fx_node.name, path, type(module).__name__, "layer", _parent(path), inputs, out, params, macs, module
            )
            self.alias[fx_node] = [fx_node.name]
            return
        # call_function / call_method
        target = fx_node.target
        if fx_node.op == "call_method":
            call = lambda: getattr(args[0], str(target))(*args[1:], **kwargs)  # noqa: E731
            op = str(target)
        else:
            call = lambda: target(*args, **kwargs)  # type: ignore[operator]  # noqa: E731
            op = _op_name(target)
        out, macs = runner.run((fx_node.op, op, target, _freeze(args), _freeze(kwargs)), call)
        env[fx_node] = out
        if op in PASS_THROUGH_FUNCTIONS or not isinstance(out, Tensor):
            # identity at inference, or a shape query (x.size(0)): metadata, not a layer
            self.alias[fx_node] = inputs if isinstance(out, Tensor) else []
            return
        path = _scope(fx_node)
        kind = "merge" if op in _MERGES else "function"
        name = f"{path}: {op}" if path else op
        self.add(fx_node.name, name, op, kind, path, inputs, out, 0, macs, None)
        self.alias[fx_node] = [fx_node.name]

    def visit_deformable(
        self,
        fx_node: fx.Node,
        path: str,
        module: DeformableConv2d,
        args: Any,
        env: dict[fx.Node, Any],
        runner: _Runner,
        inputs: list[str],
    ) -> None:
        x = args[0]
        offsets, offset_macs = runner.run(
            (_module_key(module.offset_conv), _freeze(args)), lambda: module.offset_conv(x)
        )
        out, total_macs = runner.run((_module_key(module), _freeze(args)), lambda: module(x))
        env[fx_node] = out
        offset_id = f"{fx_node.name}_offset"
        offset_params = sum(p.numel() for p in module.offset_conv.parameters())
        self.add(
            offset_id, f"{path}.offset_conv", "Conv2d", "layer", path, inputs, offsets, offset_params, offset_macs,
            module.offset_conv,
        )  # fmt: skip
        own = sum(p.numel() for p in module.parameters(recurse=False))
        self.add(
            fx_node.name, path, "DeformConv2d", "layer", path, [*inputs, offset_id], out, own,
            total_macs - offset_macs, module,
        )  # fmt: skip
        self.alias[fx_node] = [fx_node.name]


def _parent(path: str) -> str:
    return path.rsplit(".", 1)[0] if "." in path else ""


def _scope(fx_node: fx.Node) -> str:
    """The module path a functional op was called in ("" for the model's own forward)."""
    stack = fx_node.meta.get("nn_module_stack") or {}
    if not stack:
        return ""
    path = list(stack.values())[-1][0]
    return str(path)


# -- hierarchy -----------------------------------------------------------------------------------
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


def _hierarchy(builder: _Builder) -> tuple[GraphGroup, ...]:
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
    groups: dict[str, GraphGroup], builder: _Builder, preds: dict[str, list[str]], succs: dict[str, list[str]]
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


def _rank(child: str, stage_order: list[str], group_nodes: dict[str, list[str]], builder: _Builder) -> tuple:
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


# -- entry point ---------------------------------------------------------------------------------
def layer_graph(config: ModelConfig, built: BuiltModel | None = None) -> LayerGraph:
    """The layer graph of ``config`` (built on the meta device unless ``built`` is given)."""
    built = built or build(config, device="meta")
    builder = _Builder(built)
    builder.trace(config)
    groups = _hierarchy(builder)
    index = {n.id: n.index for n in builder.nodes}
    edges = tuple(sorted(dict.fromkeys(builder.edges), key=lambda e: (index[e[1]], index[e[0]])))
    return LayerGraph(
        query=format_query(config),
        family=config.family,
        resolution=config.input_resolution,
        nodes=tuple(builder.nodes),
        edges=edges,
        groups=groups,
        root=ROOT,
    )
