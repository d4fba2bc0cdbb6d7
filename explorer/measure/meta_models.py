"""Meta-device models lent out one caller at a time, so analyses of one config build it once.

The Build page counts a config twice (the inference profile, then the training memory), and each
count used to build the model on the ``meta`` device again: 20 to 100 ms of Python per build, a
third of a new config's cost. :func:`lent` keeps the last few built models and lends each to one
caller at a time (taken out of the pool while lent, put back afterwards), so two threads never run
the same module instance (their hooks would meet) and a second analysis of the config reuses it.

Callers must leave a lent model as they found it: hooks removed, train/eval modes restored and
forward overrides taken off, in ``finally`` (``explorer.measure.hooks.hooked`` and the analyses'
own context managers do); a model whose analysis raised is dropped, not put back. Meta models hold
no values, so nothing else a forward does is visible (tests/test_profile.py checks that analyses of
a lent model equal those of a fresh build).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager

from torch import nn

from explorer.families import BuiltModel, build
from explorer.knobs import ModelConfig

__all__ = ["ACTIVATIONS", "POOL_SIZE", "lent", "meta_elementwise_layers"]

#: How many idle meta models are kept (a ResNet-50's module tree is about 1 MB of Python objects).
POOL_SIZE = 8

_idle: OrderedDict[ModelConfig, list[BuiltModel]] = OrderedDict()
_lock = threading.Lock()


@contextmanager
def lent(config: ModelConfig) -> Iterator[BuiltModel]:
    """A meta-device build of ``config`` for the ``with`` body, used by this caller alone."""
    with _lock:
        spare = _idle.get(config)
        built = spare.pop() if spare else None
        if spare is not None and not spare:
            del _idle[config]
    if built is None:
        built = build(config, device="meta")
    yield built  # not put back if the body raised: a failed run may have left it half-changed
    with _lock:
        _idle.setdefault(config, []).append(built)
        _idle.move_to_end(config)
        while sum(len(v) for v in _idle.values()) > POOL_SIZE:
            oldest = next(iter(_idle))
            _idle[oldest].pop(0)
            if not _idle[oldest]:
                del _idle[oldest]


#: Element-wise activations: zero MACs, an output of the input's shape (the input itself in place).
#: Matched by exact type: a subclass may compute something else.
ACTIVATIONS = frozenset(
    {
        nn.ReLU,
        nn.ReLU6,
        nn.Hardtanh,
        nn.Hardswish,
        nn.Hardsigmoid,
        nn.SiLU,
        nn.Sigmoid,
        nn.Tanh,
        nn.GELU,
        nn.LeakyReLU,
        nn.ELU,
        nn.Mish,
    }
)


def meta_elementwise_layers(model: nn.Module) -> list[nn.Module]:
    """The batch norms and element-wise activations of a meta-device ``model`` (none of a model with
    real weights): on meta tensors their real ops run torch's Python decompositions and reference
    code, so the profile and the training-memory count stand them in (each its own way)."""
    if next((p.device.type for p in model.parameters()), "meta") != "meta":
        return []
    return [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) or type(m) in ACTIVATIONS]
