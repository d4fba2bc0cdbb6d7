"""Building on the meta device without running weight initialisation.

A meta tensor holds no values, yet ``torch.nn.init`` still draws into it: ``normal_`` and
``uniform_`` have no meta kernels and run through torch's Python decompositions: half of a meta
build of EfficientNet-B7 (0.19 s of CPU of a second build, 0.10 s without them; a first build in a
fresh process 0.37 s, 0.27 s without them, which is what ``python -m explorer profile`` pays; see
``bench/README.md``, CLI start-up). Inside :func:`skip_init_on_meta` those in-place fills return
their meta tensor as it is; on any other device nothing changes. Torch function modes are per
thread, so a build in one thread never changes another thread's.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch.overrides import TorchFunctionMode

__all__ = ["skip_init_on_meta"]

#: In-place fills that weight initialisation uses (``torch.nn.init`` and the models' own code).
_FILLS = frozenset(
    {
        torch.Tensor.normal_,
        torch.Tensor.uniform_,
        torch.Tensor.fill_,
        torch.Tensor.zero_,
        torch.Tensor.random_,
        torch.Tensor.bernoulli_,
        torch.Tensor.exponential_,
        torch.Tensor.log_normal_,
        torch.Tensor.cauchy_,
        torch.Tensor.geometric_,
        torch.Tensor.erfinv_,
        torch.Tensor.clamp_,
        torch.Tensor.mul_,
        torch.Tensor.add_,
        # torch.nn.init's functions dispatch to a torch function mode themselves (as the functions,
        # not as the Tensor methods they call), so the mode sees them whole.
        torch.nn.init.uniform_,
        torch.nn.init.normal_,
        torch.nn.init.trunc_normal_,
        torch.nn.init.constant_,
        torch.nn.init.ones_,
        torch.nn.init.zeros_,
        torch.nn.init.eye_,
        torch.nn.init.dirac_,
        torch.nn.init.xavier_uniform_,
        torch.nn.init.xavier_normal_,
        torch.nn.init.kaiming_uniform_,
        torch.nn.init.kaiming_normal_,
        torch.nn.init.orthogonal_,
        torch.nn.init.sparse_,
    }
)


class _SkipFillsOnMeta(TorchFunctionMode):
    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in _FILLS:
            # torch.nn.init hands its tensor over by keyword, the Tensor methods as self
            target = args[0] if args else kwargs.get("tensor")
            if isinstance(target, torch.Tensor) and target.is_meta:
                return target
        return func(*args, **kwargs)


@contextmanager
def skip_init_on_meta() -> Iterator[None]:
    """In-place fills of meta tensors do nothing inside the ``with`` body (this thread only)."""
    with _SkipFillsOnMeta():
        yield
