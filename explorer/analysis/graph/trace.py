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

import operator
import threading
from collections.abc import Callable
from typing import Any

import torch
import torch.fx as fx
from torch import Tensor, nn

from explorer.analysis.graph.data import BYTES_PER_VALUE, GraphGroup, GraphNode, LayerGraph
from explorer.analysis.graph.hierarchy import ROOT, hierarchy
from explorer.families import BuiltModel, build
from explorer.families.nets.deformable import DeformableConv2d
from explorer.families.nets.efficientnet import SameConv2d
from explorer.knobs import ModelConfig, format_query
from explorer.measure.counting import counting
from explorer.measure.hooks import hooked

__all__ = ["GraphGroup", "GraphNode", "LayerGraph", "layer_graph"]

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
    """fx tracer that keeps explorer's own shape-inspecting modules as leaves.

    While it traces, fx patches ``nn.Module.__call__`` and ``__getattr__`` for the whole process, so a
    module that another thread calls meanwhile (another session's forward, the server's warm-up) comes
    to this tracer and failed with "module is not installed as a submodule". Calls from other threads
    pass through as if nothing were traced."""

    def __init__(self) -> None:
        super().__init__()
        self._thread = threading.get_ident()

    def call_module(self, m: nn.Module, forward: Any, args: Any, kwargs: Any) -> Any:
        if threading.get_ident() != self._thread:
            return forward(*args, **kwargs)
        return super().call_module(m, forward, args, kwargs)

    def getattr(self, attr: str, attr_val: Any, parameter_proxy_cache: dict[str, Any]) -> Any:
        if threading.get_ident() != self._thread:
            return attr_val
        return super().getattr(attr, attr_val, parameter_proxy_cache)

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
    if ("adaptive" in op.lower() or "Adaptive" in op) and h_out >= h_in:
        # Pooled to as many cells or more (VGG's 7x7 from 1x1 at 32 px): each cell copies an input
        # cell, so the field stays (it used to shrink: -42 px for VGG-11 at 32 px).
        return 1, 1, 1, f"→{h_out}x{h_out}"
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
        self.whole: set[str] = set()  # node ids behind a global pooling: their field is the whole input
        self.side = built.config.input_resolution

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
        whole_input = False
        if kind == "input":
            rf, jump = 1, 1
        else:
            known = [(self.geo[i], self.nodes_by_id[i].output_shape) for i in inputs if i in self.geo]
            if known:
                # The widest input's field; the step between units of the input that has this node's
                # own grid. A global pooling broadcast back (squeeze-excitation's scale) widens the
                # field to the whole input but does not coarsen the grid: taking its step (the
                # pooled side times the step) multiplied the field block after block (8e21 px for
                # EfficientNet-B0).
                rf_in = max(geo[0] for geo, _ in known)
                grid = [geo[1] for geo, size in known if len(size) == len(shape) == 4 and size[2:] == shape[2:]]
                jump_in = min(grid) if grid else max(geo[1] for geo, _ in known)
                rf, jump = rf_in + (d * (k - 1)) * jump_in, jump_in * s
                if detail.startswith("global") or any(i in self.whole for i in inputs):
                    # Behind a global pooling every unit sees the whole input: its side, not the
                    # union of padded fields that grows by an image's width at every pooling.
                    rf, whole_input = self.side, True
                    self.whole.add(node_id)
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
            whole_input=whole_input,
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


# -- entry point ---------------------------------------------------------------------------------
def layer_graph(config: ModelConfig, built: BuiltModel | None = None) -> LayerGraph:
    """The layer graph of ``config`` (built on the meta device unless ``built`` is given)."""
    built = built or build(config, device="meta")
    builder = _Builder(built)
    builder.trace(config)
    groups = hierarchy(builder)
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
