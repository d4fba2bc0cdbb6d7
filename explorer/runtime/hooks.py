"""The one way to put hooks on a model: a context manager that always takes them off again.

Cached models are shared between browser sessions, so a hook left behind, or a model left in
the wrong train/eval mode, would leak into someone else's view. Handles are removed and the
mode restored in ``finally``, even when the body raises (as torchinfo's ``summary`` does).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from torch import Tensor, nn
from torch.utils.hooks import RemovableHandle

ForwardHook = Callable[[nn.Module, tuple[Any, ...], Any], Any]
#: Called with the gradient of the loss with respect to a module's output, during backward.
OutputGradHook = Callable[[Tensor], None]


@contextmanager
def hooked(
    model: nn.Module,
    forward: Mapping[str, ForwardHook] | None = None,
    full_backward: Mapping[str, Callable[..., Any]] | None = None,
    training: bool | None = None,
    output_grad: Mapping[str, OutputGradHook] | None = None,
) -> Iterator[nn.Module]:
    """Attach forward / full-backward hooks to named submodules for the ``with`` body.

    ``output_grad`` hooks get the gradient with respect to the named module's (first tensor)
    output: each forward call puts a tensor hook on that output, registered before any in-place
    op that follows, so it sees the gradient of the module's own output. The tensor hooks'
    handles are kept and removed with the others.

    ``training`` sets train (True) or eval (False) mode inside the body; the mode of every
    submodule is put back afterwards, whatever happened inside.
    """
    modules = dict(model.named_modules())
    modes = {name: m.training for name, m in modules.items()}
    handles: list[RemovableHandle] = []
    try:
        for name, hook in (forward or {}).items():
            handles.append(modules[name].register_forward_hook(hook))
        for name, hook in (full_backward or {}).items():
            handles.append(modules[name].register_full_backward_hook(hook))
        for name, hook in (output_grad or {}).items():
            handles.append(modules[name].register_forward_hook(_output_grad_hook(hook, handles)))
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
