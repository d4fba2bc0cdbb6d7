"""The one way to put hooks on a model: a context manager that always takes them off again.

Cached models are shared between browser sessions (each a thread), so a hook left behind, or a
model left in the wrong train/eval mode, would leak into someone else's view, and one thread's
hooks would catch another thread's forward. :func:`hooked` therefore holds the model's own lock
(:func:`model_lock`, re-entrant) for the whole ``with`` body: every analysis that hooks a model,
switches its mode or runs backward through it is serialised on that model by construction. Handles
are removed and the mode restored in ``finally``, even when the body raises (as torchinfo's
``summary`` does).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from torch import Tensor, nn
from torch.utils.hooks import RemovableHandle

ForwardHook = Callable[[nn.Module, tuple[Any, ...], Any], Any]
ForwardPreHook = Callable[[nn.Module, tuple[Any, ...]], Any]
#: Called with the gradient of the loss with respect to a module's output, during backward.
OutputGradHook = Callable[[Tensor], None]

_LOCKS: weakref.WeakKeyDictionary[nn.Module, threading.RLock] = weakref.WeakKeyDictionary()
_LOCKS_LOCK = threading.Lock()


@contextmanager
def model_lock(model: nn.Module) -> Iterator[None]:
    """Exclusive use of ``model`` for the ``with`` body (re-entrant in the same thread).

    :func:`hooked` takes it; take it directly around work on a shared model that has no hooks but
    must not overlap another thread's (copying it, putting its buffers back afterwards).
    """
    with _LOCKS_LOCK:
        lock = _LOCKS.setdefault(model, threading.RLock())
    with lock:
        yield


@contextmanager
def hooked(
    model: nn.Module,
    forward: Mapping[str, ForwardHook] | None = None,
    full_backward: Mapping[str, Callable[..., Any]] | None = None,
    training: bool | None = None,
    output_grad: Mapping[str, OutputGradHook] | None = None,
    forward_pre: Mapping[str, ForwardPreHook] | None = None,
    always_call: bool = False,
) -> Iterator[nn.Module]:
    """Attach forward / forward-pre / full-backward hooks to named submodules for the ``with`` body,
    holding ``model``'s lock (:func:`model_lock`) throughout.

    ``output_grad`` hooks get the gradient with respect to the named module's (first tensor)
    output: each forward call puts a tensor hook on that output, registered before any in-place
    op that follows, so it sees the gradient of the module's own output. The tensor hooks'
    handles are kept and removed with the others. ``always_call`` runs the ``forward`` hooks even
    when the module raises (a stack of running modules stays balanced).

    ``training`` sets train (True) or eval (False) mode inside the body; the mode of every
    submodule is put back afterwards, whatever happened inside.
    """
    with model_lock(model):
        modules = dict(model.named_modules())
        modes = {name: m.training for name, m in modules.items()}
        handles: list[RemovableHandle] = []
        try:
            for name, pre_hook in (forward_pre or {}).items():
                handles.append(modules[name].register_forward_pre_hook(pre_hook))
            for name, hook in (forward or {}).items():
                handles.append(modules[name].register_forward_hook(hook, always_call=always_call))
            for name, hook in (full_backward or {}).items():
                handles.append(modules[name].register_full_backward_hook(hook))
            for name, grad_hook in (output_grad or {}).items():
                handles.append(modules[name].register_forward_hook(_output_grad_hook(grad_hook, handles)))
            if training is not None:
                model.train(training)
            yield model
        finally:
            for handle in handles:
                handle.remove()
            for name, module in modules.items():
                module.training = modes[name]


def _output_grad_hook(hook: OutputGradHook, handles: list[RemovableHandle]) -> ForwardHook:
    def on_forward(module: nn.Module, inputs: tuple[Any, ...], output: Any) -> None:
        tensor = output if isinstance(output, Tensor) else next((o for o in output if isinstance(o, Tensor)), None)
        if tensor is not None and tensor.requires_grad:
            handles.append(tensor.register_hook(hook))

    return on_forward
