"""Training memory: the bytes autograd saves for the backward pass, per layer, at batch B.

Computed on the ``meta`` device (no memory is allocated, so EfficientNet-B7 costs one shape-only
forward): the model runs in training mode (batch norm saves its batch statistics, as in training) at
batch ``B`` under :func:`torch.autograd.graph.saved_tensors_hooks`, and every tensor autograd packs is
counted by its *storage*, each storage once: a ReLU's output that the next conv saves as its input is
one buffer, not two, and a view (a transposed weight, a slice) counts the storage it views.

What is not counted: parameters and buffers (the weights are there anyway; see
:attr:`explorer.measure.profile.Profile.weight_bytes`), the weights' gradients and optimiser state
(``explorer.runtime.guard`` adds those), and the gradients of activations, which live only during
backward. Saved bytes are attributed to the innermost module running when autograd saved them (a
functional op in a ``forward`` counts for the module whose ``forward`` it is); the first saver of a
storage gets it. Rows sum to :attr:`TrainingMemory.saved_bytes`.

:func:`measured_saved_bytes` does the same on a real model and tells storages apart by their data
pointers, an independent way of counting each storage once; tests compare the two.

Speed: on the meta device a training-mode batch norm runs through torch's Python decompositions
(about 1.4 ms each, 60 % of the whole count for a ResNet), so :func:`training_memory` stands each one
in with :class:`_SavesLikeBatchNorm`, which saves exactly the tensors the real op saves (learned
once per norm setting from the real op, see :func:`_saved_layout`) and returns an empty output of the
input's shape; element-wise activations (torch's Python reference code on meta tensors, half of a
MobileNet's count) are stood in the same way by :class:`_SavesLikeActivation`, with what the real
op saves learned from it once per kind and settings. ``tests/test_memory.py`` checks that every preset
gives the same rows both ways.
"""

from __future__ import annotations

import copy
import dataclasses
import re
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from explorer.errors import InputError
from explorer.families import BuiltModel
from explorer.knobs import ModelConfig, format_query
from explorer.measure.hooks import hooked
from explorer.measure.memory_data import LayerMemory, TrainingMemory
from explorer.measure.meta_models import lent, meta_elementwise_layers

__all__ = [
    "LayerMemory",
    "TrainingMemory",
    "measured_saved_bytes",
    "training_memory",
    "training_memory_or_smallest_batch",
]

#: Saved tensors packed while no module of the model was running (the loss, for instance).
OUTSIDE = "(outside modules)"


@contextmanager
def _saving(model: nn.Module, key: Callable[[Tensor], Any]) -> Iterator[dict[str, Any]]:
    """Record the storages autograd saves while the body runs, attributed to the running module.

    Yields ``{"bytes": {module: int}, "tensors": {module: int}, "order": [module, ...]}``; module
    tracking goes through :func:`explorer.measure.hooks.hooked` (removed, modes restored, in ``finally``).
    """
    skip = {key(t) for t in [*model.parameters(), *model.buffers()]}
    seen: dict[Any, Tensor] = {}  # key -> tensor: keeps the storage alive, so no key is reused
    stack: list[str] = []
    record: dict[str, Any] = {"bytes": defaultdict(int), "tensors": defaultdict(int), "order": []}

    def enter(name: str):
        def pre(module: nn.Module, inputs: tuple[Any, ...]) -> None:
            stack.append(name)
            if name not in record["order"]:
                record["order"].append(name)

        return pre

    def leave(module: nn.Module, inputs: tuple[Any, ...], output: Any) -> None:
        stack.pop()

    def pack(tensor: Tensor) -> Tensor:
        k = key(tensor)
        if k not in skip and k not in seen:
            seen[k] = tensor
            owner = stack[-1] if stack else OUTSIDE
            record["bytes"][owner] += tensor.untyped_storage().nbytes()
            record["tensors"][owner] += 1
        return tensor

    modules = [name for name, _ in model.named_modules() if name]
    try:
        with (
            hooked(
                model,
                forward_pre={name: enter(name) for name in modules},
                forward=dict.fromkeys(modules, leave),
                training=True,
            ),
            torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t),
        ):
            yield record
    finally:
        seen.clear()


#: How the real op saves each tensor: ("input",), ("own", attribute name) for the norm's own
#: parameters and buffers (not counted), or ("new", shape, dtype) for a tensor it makes, where a
#: dimension of the norm's feature count is written :data:`FEATURES`.
SavedSlot = tuple[Any, ...]
FEATURES = "features"
#: (features, batch, spatial side) of the two probes a layout is learned from: feature counts that
#: differ from every batch and side, so a dimension equal to the features is one.
PROBES = ((11, 2, 3), (13, 3, 5))


def _norm_settings(norm: nn.modules.batchnorm._BatchNorm) -> tuple[Any, ...]:
    return (type(norm), norm.eps, norm.momentum, norm.affine, norm.track_running_stats)


def _layout_at(settings: tuple[Any, ...], features: int, shape: tuple[int, ...]) -> tuple[SavedSlot, ...]:
    kind, eps, momentum, affine, track = settings
    norm = kind(features, eps=eps, momentum=momentum, affine=affine, track_running_stats=track, device="meta")
    norm.train()
    own = {t.untyped_storage()._cdata: name for name, t in [*norm.named_parameters(), *norm.named_buffers()]}
    x = torch.zeros(shape, device="meta", requires_grad=True)
    slots: list[SavedSlot] = []

    def pack(tensor: Tensor) -> Tensor:
        key = tensor.untyped_storage()._cdata
        if key == x.untyped_storage()._cdata:
            slots.append(("input",))
        elif key in own:
            slots.append(("own", own[key]))
        else:
            slots.append(("new", tuple(FEATURES if d == features else d for d in tensor.shape), tensor.dtype))
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        norm(x)
    return tuple(slots)


@lru_cache(maxsize=64)
def _saved_layout(settings: tuple[Any, ...], ndim: int) -> tuple[SavedSlot, ...] | None:
    """What the real training-mode norm of ``settings`` (any feature count) saves for an input of
    ``ndim`` dimensions, or None when that depends on the input's size (then the real op runs):
    learned from the real op at two feature counts and input sizes, so a torch upgrade that saves
    other tensors is followed, not assumed. Keyed without the feature count: a new width costs no
    new probe (each probe runs torch's decomposed batch norm, about 8 ms)."""
    layouts = {_layout_at(settings, f, (batch, f, *([side] * (ndim - 2)))) for f, batch, side in PROBES}
    return layouts.pop() if len(layouts) == 1 else None


class _SavesLikeBatchNorm(torch.autograd.Function):
    """A training-mode batch norm on meta tensors: an empty output of the input's shape, saving
    for backward the tensors given (those the real op saves). Never differentiated."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, *saved: Tensor) -> Tensor:
        ctx.save_for_backward(*saved)
        return torch.empty_like(x)

    @staticmethod
    def backward(ctx: Any, *grads: Tensor) -> Any:
        raise RuntimeError("a stand-in for counting saved tensors on the meta device; not differentiable")


def _stand_in(norm: nn.modules.batchnorm._BatchNorm, real: Callable[[Tensor], Tensor]) -> Callable[[Tensor], Tensor]:
    settings = _norm_settings(norm)

    def forward(x: Tensor) -> Tensor:
        layout = _saved_layout(settings, x.ndim) if norm.training and x.ndim >= 2 and x.is_meta else None
        if layout is None or x.numel() == x.shape[1]:
            return real(x)  # eval mode, or one value per channel (the real op raises its own error)
        saved = []
        for slot in layout:
            if slot[0] == "input":
                saved.append(x)
            elif slot[0] == "own":
                saved.append(getattr(norm, slot[1]))
            else:
                shape = tuple(norm.num_features if d == FEATURES else d for d in slot[1])
                saved.append(torch.empty(shape, dtype=slot[2], device="meta"))
        return _SavesLikeBatchNorm.apply(x, *saved)

    return forward


#: The two input shapes an activation's layout is learned at (cut to the input's number of dimensions).
ACTIVATION_SHAPES = ((2, 11, 3, 3), (3, 13, 5, 5))


def _activation_layout_at(activation: nn.Module, shape: tuple[int, ...]) -> tuple[SavedSlot, ...]:
    """How the real ``activation`` saves each tensor for an input of ``shape``: ("input",) (for an
    in-place op, its output too), ("output",), ("like input", dtype) for a new tensor of the input's
    shape, or ("new", shape, dtype)."""
    x = torch.zeros(shape, device="meta", requires_grad=True) * 1  # not a leaf: in-place ops may run on it
    slots: list[SavedSlot] = []
    output: list[Tensor] = []

    def pack(tensor: Tensor) -> Tensor:
        key = tensor.untyped_storage()._cdata
        if key == x.untyped_storage()._cdata:
            slots.append(("input",))
        else:
            slots.append(("maybe output", tensor))
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        output.append(activation(x))
    out_key = output[0].untyped_storage()._cdata

    def slot(s: tuple[Any, ...]) -> SavedSlot:
        if s[0] != "maybe output":
            return s
        tensor = s[1]
        if tensor.untyped_storage()._cdata == out_key:
            return ("output",)
        if tensor.shape == x.shape:  # a copy of the input (an in-place op that needs the values it overwrote)
            return ("like input", tensor.dtype)
        return ("new", tuple(tensor.shape), tensor.dtype)

    return tuple(slot(s) for s in slots)


@lru_cache(maxsize=64)
def _activation_layout(kind: type, settings: str, ndim: int) -> tuple[SavedSlot, ...] | None:
    """What a real activation of ``kind`` (``settings``: its ``extra_repr``) saves for an input of
    ``ndim`` dimensions, learned from the real op at two input sizes (None when that depends on the
    size, or when it is not element-wise: then the real op runs)."""
    activation = _ACTIVATION_PROBES[(kind, settings)]
    layouts = set()
    for shape in ACTIVATION_SHAPES:
        layouts.add(_activation_layout_at(activation, shape[:ndim]))
    return layouts.pop() if len(layouts) == 1 else None


#: (type, extra_repr) -> a copy of the activation, for learning its layout.
_ACTIVATION_PROBES: dict[tuple[type, str], nn.Module] = {}


class _SavesLikeActivation(torch.autograd.Function):
    """An element-wise activation on meta tensors: its input back (in place) or an empty output of
    its shape, saving for backward what the real op saves. Never differentiated."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, inplace: bool, layout: tuple[SavedSlot, ...]) -> Tensor:
        if inplace:
            ctx.mark_dirty(x)
        out = x if inplace else torch.empty_like(x)
        saved = []
        for slot in layout:
            if slot[0] in ("input", "output"):
                saved.append(x if slot[0] == "input" else out)
            elif slot[0] == "like input":
                saved.append(torch.empty_like(x, dtype=slot[1]))
            else:
                saved.append(torch.empty(slot[1], dtype=slot[2], device="meta"))
        ctx.save_for_backward(*saved)
        return out

    @staticmethod
    def backward(ctx: Any, *grads: Tensor) -> Any:
        raise RuntimeError("a stand-in for counting saved tensors on the meta device; not differentiable")


def _activation_stand_in(activation: nn.Module, real: Callable[[Tensor], Tensor]) -> Callable[[Tensor], Tensor]:
    kind, settings = type(activation), activation.extra_repr()
    inplace = bool(getattr(activation, "inplace", False))
    _ACTIVATION_PROBES.setdefault((kind, settings), copy.deepcopy(activation))

    def forward(x: Tensor) -> Tensor:
        meta = x.is_meta and 2 <= x.ndim <= 4
        layout = _activation_layout(kind, settings, x.ndim) if meta else None  # type: ignore[arg-type]  # classes hash
        if layout is None or not torch.is_grad_enabled() or not x.requires_grad:
            return real(x)
        return _SavesLikeActivation.apply(x, inplace, layout)

    return forward


@contextmanager
def _fast_meta_norms(model: nn.Module) -> Iterator[None]:
    """Stand each batch norm of a meta model in with :class:`_SavesLikeBatchNorm`, and each
    element-wise activation with :class:`_SavesLikeActivation`, for the body (see the module
    docstring). The stand-in is an instance attribute, so ``nn.Module.__call__`` still runs the
    module's hooks, and it is removed in ``finally``."""
    layers = meta_elementwise_layers(model)
    patched = []
    try:
        for layer in layers:
            if "forward" not in layer.__dict__:
                if isinstance(layer, nn.modules.batchnorm._BatchNorm):
                    layer.forward = _stand_in(layer, layer.forward)  # type: ignore[method-assign, assignment]  # see docstring
                else:
                    layer.forward = _activation_stand_in(layer, layer.forward)
                patched.append(layer)
        yield
    finally:
        for layer in patched:
            layer.__dict__.pop("forward", None)


def _meta_key(tensor: Tensor) -> int:
    # Meta storages have no data pointer; the storage object's address is unique while it lives
    # (and _saving keeps every saved one alive).
    return tensor.untyped_storage()._cdata


def _forward_loss(model: nn.Module, x: Tensor, classes: int) -> Tensor:
    logits = model(x)
    if isinstance(logits, tuple):  # GoogLeNet / Inception-v3 with aux classifiers in training
        logits = logits[0]
    y = torch.arange(x.shape[0], device=x.device) % classes
    return F.cross_entropy(logits, y)


def _rows(record: dict[str, Any], built: BuiltModel, model: nn.Module) -> tuple[LayerMemory, ...]:
    modules = dict(model.named_modules())
    names = [n for n in record["order"] if record["bytes"].get(n)]
    if record["bytes"].get(OUTSIDE):
        names.append(OUTSIDE)
    return tuple(
        LayerMemory(
            name=name,
            type=type(modules[name]).__name__ if name in modules else "",
            stage=built.stage_of(name).name if name in modules else built.stages[-1].name,
            saved_bytes=record["bytes"][name],
            tensors=record["tensors"][name],
        )
        for name in names
    )


@lru_cache(maxsize=64)
def training_memory(config: ModelConfig, batch: int = 1) -> TrainingMemory:
    """The bytes autograd saves for backward in one training step of ``config`` at ``batch``
    (float32, meta device; see the module docstring for what counts)."""
    if batch < 1:
        raise InputError(f"batch={batch}; allowed: 1 or more")
    side = config.input_resolution
    x = torch.zeros(batch, config.in_channels, side, side, device="meta")
    try:
        with lent(config) as built, _saving(built.module, _meta_key) as record, _fast_meta_norms(built.module):
            _forward_loss(built.module, x, config.classes)
    except ValueError as error:  # batch norm over a single value per channel cannot train
        raise InputError(f"{format_query(config)} cannot train at batch {batch}: {error}") from None
    rows = _rows(record, built, built.module)
    return TrainingMemory(format_query(config), batch, sum(r.saved_bytes for r in rows), rows)


#: The smallest batch at which every batch norm sees more than one value per channel in training mode.
SMALLEST_TRAINABLE_BATCH = 2


def training_memory_or_smallest_batch(config: ModelConfig, batch: int = 1) -> TrainingMemory:
    """:func:`training_memory` at ``batch``; where that batch cannot train (batch 1 with a batch norm
    over 1x1 maps: one value per channel has no variance), the count at batch 2, its ``note`` saying
    why. Memory per sample is what the user asks anyway. Raises ValueError only where batch 2 fails too."""
    try:
        return training_memory(config, batch)
    except ValueError as error:
        if batch >= SMALLEST_TRAINABLE_BATCH:
            raise
        reason = str(error)
    counted = training_memory(config, SMALLEST_TRAINABLE_BATCH)
    size = re.search(r"torch\.Size\(\[([\d, ]+)\]\)", reason)
    where = f" (its input is {size.group(1).replace(', ', '×')})" if size else ""
    note = (
        f"counted at batch {SMALLEST_TRAINABLE_BATCH}: at batch {batch} a batch norm sees one value per channel"
        f"{where}, which cannot train"
    )
    return dataclasses.replace(counted, note=note)


def _real_key(tensor: Tensor) -> tuple[str, int]:
    return (tensor.device.type, tensor.untyped_storage().data_ptr())


def measured_saved_bytes(built: BuiltModel, x: Tensor) -> int:
    """Bytes of the distinct storages autograd saves in a real training-mode forward of ``built``
    on ``x`` (storages told apart by data pointer); the model is left in the mode it was in."""
    model = built.module
    with _saving(model, _real_key) as record:
        loss = _forward_loss(model, x, built.config.classes)
    del loss
    return sum(record["bytes"].values())
