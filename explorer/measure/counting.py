"""Counting multiply-adds per module, safely while other threads run models too.

``torch.utils.flop_counter.FlopCounterMode`` attributes each op's FLOPs to the modules that are
running, which it learns from ``torch.utils.module_tracker.ModuleTracker``: *global* module hooks
(``register_module_forward_pre_hook``) whose set of running modules is shared by every thread. A
server runs each browser session's script in a thread of its own, so while two profiles run at once
each one's per-module counts receive the other's module names (measured here: four ResNets profiled
in four threads gave ``layer1.0.relu`` 130 M MACs and a ``conv1`` 16 times too big), and every other
thread's forward pays for those global hooks.

:class:`MacCounter` keeps FlopCounterMode's formulas (``flop_registry``, including the project's
``torchvision::deform_conv2d`` formula from :mod:`explorer.measure.flops`) and its rule for ops
without one (decompose, then count), and replaces the module tracking with hooks on the one model
it counts, kept on a stack of its own: a count goes to the innermost module running in this thread.
Dispatch modes are thread-local, so nothing another thread runs is counted.

Counts are FLOPs as the registry gives them (2 per multiply-add); :mod:`explorer.measure.flops`
states the convention.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry

import explorer.measure.flops  # noqa: F401  (registers the deform_conv2d formula)
from explorer.measure.hooks import hooked

__all__ = ["OUTSIDE", "MacCounter", "counting"]

#: Where FLOPs of ops that run while no module of the counted model is running are kept.
OUTSIDE = ""

#: Metadata queries FlopCounterMode passes through untouched (they are not computations).
_METADATA_OPS = frozenset(
    {
        torch.ops.aten.sym_is_contiguous.default,
        torch.ops.aten.is_contiguous.default,
        torch.ops.aten.is_contiguous.memory_format,
        torch.ops.aten.is_strides_like_format.default,
        torch.ops.aten.is_non_overlapping_and_dense.default,
        torch.ops.aten.size.default,
        torch.ops.aten.sym_size.default,
        torch.ops.aten.stride.default,
        torch.ops.aten.sym_stride.default,
        torch.ops.aten.storage_offset.default,
        torch.ops.aten.sym_storage_offset.default,
        torch.ops.aten.numel.default,
        torch.ops.aten.sym_numel.default,
        torch.ops.aten.dim.default,
        torch.ops.prim.layout.default,
    }
)


class MacCounter(TorchDispatchMode):
    """FLOPs of every op run while the mode is active, by the innermost module running.

    ``own[name]`` holds the FLOPs of ops run directly by module ``name`` (its submodules' ops are
    theirs); ``own[OUTSIDE]`` those run outside any module of the model; :attr:`total` is their sum.
    Without a model (``counting(None)``) everything is counted under ``OUTSIDE``.
    """

    def __init__(self) -> None:
        super().__init__()
        self.own: dict[str, int] = defaultdict(int)
        self.stack: list[str] = [OUTSIDE]

    @property
    def total(self) -> int:
        return sum(self.own.values())

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple[Any, ...] = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        if func in _METADATA_OPS:
            return NotImplemented
        packet = func._overloadpacket
        if packet not in flop_registry and func is not torch.ops.prim.device.default:
            with self:  # as FlopCounterMode: count what the op decomposes into
                result = func.decompose(*args, **kwargs)
                if result is not NotImplemented:
                    return result
        out = func(*args, **kwargs)
        formula = flop_registry.get(packet)
        if formula is not None:
            self.own[self.stack[-1]] += formula(*args, **kwargs, out_val=out)
        return out


@contextmanager
def counting(model: nn.Module | None = None) -> Iterator[MacCounter]:
    """Count FLOPs in the ``with`` body, attributed to ``model``'s submodules by dotted name; the
    root module's own ops count under ``OUTSIDE``, with anything run outside the model.

    The hooks are the model's own, through :func:`explorer.measure.hooks.hooked` (removed in
    ``finally``, the model's lock held), so no other thread runs the model meanwhile.
    """
    counter = MacCounter()
    if model is None:
        with counter:
            yield counter
        return
    names = [name for name, _ in model.named_modules() if name]

    def enter(name: str) -> Callable[[nn.Module, Any], None]:
        def pre(module: nn.Module, inputs: Any) -> None:
            counter.stack.append(name)

        return pre

    def leave(module: nn.Module, inputs: Any, output: Any) -> None:
        counter.stack.pop()

    forward_pre = {name: enter(name) for name in names}
    with hooked(model, forward_pre=forward_pre, forward=dict.fromkeys(names, leave), always_call=True), counter:
        yield counter
