"""Parameters, MACs, output shapes and activation memory of a config, per layer and in total.

Computed on the ``meta`` device: no weights are allocated, so EfficientNet-B7 at 600 px profiles
in well under a second. MACs come from :class:`explorer.measure.counting.MacCounter` (the formulas
of ``torch.utils.flop_counter``, counted per module safely while other threads profile too; FLOPs / 2;
see :mod:`explorer.measure.flops` for the counting convention and the deformable-conv formula).

Rows: one per layer that does work, in execution order: every leaf module (pass-through modules
such as ``nn.Identity`` left out) and every module with parameters or multiply-adds of its own
(a deformable conv holds its weight and calls the sampling op itself). Row parameters and MACs
are the module's own, so rows sum exactly to the totals.

Modules that hold parameters but do not run at inference (the auxiliary classifiers of GoogLeNet
and Inception-v3, which run only in training) get rows too, with their parameters, no MACs, no
output shape and no depth, placed after the module defined just before them.

Activation memory: bytes of the tensors the rows' calls produce at batch 1 in float32; an output
that is one of its inputs (in-place ReLU, identity) is new memory of zero bytes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import Tensor, nn

from explorer.families import BuiltModel
from explorer.families.nets.deformable import DeformableConv2d
from explorer.knobs import ModelConfig, format_query
from explorer.measure.counting import counting
from explorer.measure.hooks import hooked
from explorer.measure.meta_models import lent, meta_elementwise_layers
from explorer.measure.profile_data import BYTES_PER_VALUE, LayerRow, Profile

__all__ = ["BYTES_PER_VALUE", "LayerRow", "Profile", "profile"]

WEIGHTED_TYPES = (nn.Conv2d, nn.Linear, DeformableConv2d)


def _is_pass_through(module: nn.Module) -> bool:
    return isinstance(module, nn.Identity) or (isinstance(module, nn.Sequential) and len(module) == 0)


def _own_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters(recurse=False))


def _tensors(value: Any) -> Iterable[Tensor]:
    if isinstance(value, Tensor):
        yield value
    elif isinstance(value, (tuple, list)):
        for item in value:
            yield from _tensors(item)


def _with_unrun(order: list[str], unrun: set[str], defined: list[str]) -> list[str]:
    """``order`` with each module of ``unrun`` placed after the last module defined before it that
    ran (an auxiliary classifier follows the block it would read in training)."""
    if not unrun:
        return order
    position = {name: i for i, name in enumerate(order)}
    after: dict[int, list[str]] = defaultdict(list)
    anchor = -1
    for name in defined:
        if name in position:
            anchor = position[name]
        elif name in unrun:
            after[anchor].append(name)
    merged = list(after[-1])
    for i, name in enumerate(order):
        merged += [name, *after[i]]
    return merged


def _same(x: Tensor) -> Tensor:
    return x


@contextmanager
def _shape_only_layers(model: nn.Module) -> Iterator[None]:
    """On the meta device, batch norms and element-wise activations return an empty tensor of their
    input's shape (an in-place activation its input) instead of running: they count zero MACs and
    keep the shape. Run, a batch norm's MACs would be counted through a dozen decomposed ops (about
    half of EfficientNet-B7's profiling time) and an activation runs torch's Python reference
    implementation on meta tensors (most of a MobileNet's). Hand-written because torch offers no
    "shapes only" switch."""
    layers = meta_elementwise_layers(model)
    for layer in layers:
        # An instance attribute: nn.Module.__call__ still runs the hooks.
        layer.forward = _same if getattr(layer, "inplace", False) else torch.empty_like
    try:
        yield
    finally:
        for layer in layers:
            layer.__dict__.pop("forward", None)  # another thread may have put it back already


def profile(config: ModelConfig, built: BuiltModel | None = None) -> Profile:
    """Profile ``config`` at batch 1 (see the module docstring for what is counted), on ``built``
    or on a meta-device build (lent: :mod:`explorer.measure.meta_models`)."""
    if built is None:
        with lent(config) as meta:
            return _profile(config, meta)
    return _profile(config, built)


def _profile(config: ModelConfig, built: BuiltModel) -> Profile:
    model = built.module
    modules = dict(model.named_modules())
    candidates = {
        name: m
        for name, m in modules.items()
        if name and not _is_pass_through(m) and (not any(True for _ in m.children()) or _own_params(m) > 0)
    }
    order: list[str] = []
    shapes: dict[str, tuple[int, ...]] = {}
    activation: dict[str, int] = defaultdict(int)

    def recorder(name: str):
        def hook(module: nn.Module, inputs: tuple[Any, ...], output: Any) -> None:
            if name not in shapes:
                order.append(name)
                outputs = list(_tensors(output))
                shapes[name] = tuple(outputs[0].shape) if outputs else ()
            input_ids = {id(t) for t in _tensors(inputs)}
            activation[name] += sum(t.numel() * BYTES_PER_VALUE for t in _tensors(output) if id(t) not in input_ids)

        return hook

    resolution = config.input_resolution
    device = next((p.device for p in model.parameters()), torch.device("meta"))
    x = torch.zeros(1, config.in_channels, resolution, resolution, device=device)
    hooks = {n: recorder(n) for n in candidates}
    with (
        hooked(model, forward=hooks, training=False),
        _shape_only_layers(model),
        torch.no_grad(),
        counting(model) as counter,
    ):
        model(x)
    total_macs = counter.total // 2

    def own_macs(name: str) -> int:
        return counter.own.get(name, 0) // 2

    # Modules with functional work of their own but no row (rare) get one, so rows sum to totals.
    for name, module in modules.items():
        if name and name not in candidates and own_macs(name) > 0:
            candidates[name] = module
            if name not in shapes:
                order.append(name)
                shapes[name] = ()

    # Modules with parameters that did not run at inference (auxiliary classifiers) get rows too,
    # with no MACs and no output shape, so that rows still sum to the totals.
    unrun = {name for name, module in candidates.items() if name not in shapes and _own_params(module) > 0}
    order = _with_unrun(order, unrun, list(modules))
    shapes |= {name: () for name in unrun}
    rows: list[LayerRow] = []
    depth = 0
    for name in order:
        module = candidates[name]
        shape = shapes[name]
        weighted = isinstance(module, WEIGHTED_TYPES) and name not in unrun
        depth += weighted
        rows.append(
            LayerRow(
                name=name,
                type=type(module).__name__,
                stage=built.stage_of(name).name,
                block=built.block_of(name),
                depth=depth if weighted else None,
                params=_own_params(module),
                macs=own_macs(name),
                output_shape=shape,
                activation_bytes=activation[name],
                stride=resolution // shape[2] if len(shape) == 4 and shape[2] else None,
            )
        )
    params = sum(p.numel() for p in model.parameters())
    unrowed_macs = total_macs - sum(r.macs for r in rows)
    if unrowed_macs:  # work done by the root module itself (counted under OUTSIDE)
        root = type(model).__name__
        rows.append(LayerRow("(root)", root, built.stages[-1].name, None, None, 0, unrowed_macs, (), 0, None))
    return Profile(
        query=format_query(config),
        family=config.family,
        resolution=resolution,
        in_channels=config.in_channels,
        params=params,
        macs=total_macs,
        activation_bytes=sum(r.activation_bytes for r in rows),
        layers=tuple(rows),
    )
