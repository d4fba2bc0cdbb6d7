"""The sanity check of Adebayo et al. ("Sanity Checks for Saliency Maps", NeurIPS 2018): cascading randomisation.

A map that explains the network must change when the network's learned weights are thrown away.
:func:`cascading_randomization` re-initialises the network from the head down to the stem, one stage at
a time (each step keeps the previous steps' random weights), and after each step recomputes every
chosen method's map and its Spearman rank correlation with the trained model's map. Grad-CAM and
gradients fall towards 0 as the randomisation reaches the early layers; Guided Backprop, in the
paper, stays high: it shows the image's edges whatever the weights.

The randomisation happens on a private deep copy of the model, taken under the model's lock; the
shared (cached) model is never modified. Weights are drawn as PyTorch's default initialisation
(Kaiming-uniform with ``a = sqrt(5)``, biases uniform in ``±1/sqrt(fan_in)``; norm layers back to
weight 1, bias 0 and fresh running statistics) from a seeded generator on the model's device, so the
check is repeatable and draws nothing from the global random state other sessions share.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from explorer.analysis.attribution import (
    DEFAULT_OPTIONS,
    Method,
    MethodOptions,
    attribution_tensor,
    heatmap_of,
    top_class,
)
from explorer.analysis.saliency import default_layer
from explorer.analysis.sanity_data import (
    PASS_BELOW,
    SANITY_METHODS,
    SanityCheck,
    SanityStep,
    rank_average,
    spearman,
)
from explorer.errors import InputError
from explorer.families import BuiltModel
from explorer.measure.hooks import hooked, model_lock
from explorer.runtime.device import full_float32

__all__ = [
    "PASS_BELOW",
    "SANITY_METHODS",
    "SanityCheck",
    "SanityStep",
    "cascading_randomization",
    "randomize_",
    "rank_average",
    "spearman",
]


def _reinit_leaf(module: nn.Module, generator: torch.Generator) -> None:
    """PyTorch's default initialisation of one leaf module's own parameters, drawn from ``generator``."""
    if isinstance(module, nn.modules.batchnorm._NormBase | nn.GroupNorm | nn.LayerNorm):
        module.reset_parameters()  # weight 1, bias 0, running statistics reset: no randomness
        return
    own = dict(module.named_parameters(recurse=False))
    weight = own.get("weight")
    fan_in = 1
    if weight is not None and weight.dim() >= 2:
        nn.init.kaiming_uniform_(weight, a=math.sqrt(5), generator=generator)
        fan_in = weight[0].numel()
    for name, parameter in own.items():
        if parameter is weight and parameter.dim() >= 2:
            continue
        bound = 1.0 / math.sqrt(fan_in if name == "bias" else max(1, parameter.numel()))
        nn.init.uniform_(parameter, -bound, bound, generator=generator)


def randomize_(module: nn.Module, generator: torch.Generator) -> int:
    """Re-initialise every parameter under ``module`` in place; returns how many tensors were drawn."""
    count = 0
    with torch.no_grad():
        for sub in module.modules():
            if any(True for _ in sub.parameters(recurse=False)):
                _reinit_leaf(sub, generator)
                count += 1
    return count


def _parameterised(model: nn.Module, names: Sequence[str]) -> tuple[str, ...]:
    modules = dict(model.named_modules())
    return tuple(name for name in names if name in modules and any(True for _ in modules[name].parameters()))


def cascading_randomization(
    built: BuiltModel,
    image: torch.Tensor,
    methods: Sequence[Method] = SANITY_METHODS,
    target: int | None = None,
    options: MethodOptions = DEFAULT_OPTIONS,
    seed: int = 0,
) -> SanityCheck:
    """The cascading randomisation of ``built``'s private copy, head to stem, with each method's map and its
    Spearman correlation to the trained map after every step. ``image`` ``(1, C, H, W)``, preprocessed;
    ``target`` defaults to the trained model's top class and stays fixed through the steps."""
    start = time.perf_counter()
    methods = tuple(Method(m) for m in methods)
    if not methods:
        raise InputError("choose at least one method for the sanity check")
    with model_lock(built.module):
        private = copy.deepcopy(built.module)
    device = next(private.parameters()).device
    image = image.to(device)
    layer = options.layer or default_layer(built)
    generator = torch.Generator(device=device).manual_seed(seed)
    stages = [(s.name, _parameterised(private, s.modules)) for s in reversed(built.stages)]
    stages = [(name, modules) for name, modules in stages if modules]
    named = dict(private.named_modules())

    def maps(chosen: int) -> dict[Method, np.ndarray]:
        return {
            m: heatmap_of(m, attribution_tensor(private, image, m, chosen, layer, options)).float().cpu().numpy()
            for m in methods
        }

    steps = []
    with full_float32(), hooked(private, training=False):
        probabilities, top = top_class(private, image)
        chosen = top if target is None else int(target)
        if not 0 <= chosen < probabilities.numel():
            raise InputError(f"target class {chosen} is out of range; the model has {probabilities.numel()} classes")
        trained = maps(chosen)
        for stage, modules in stages:
            for name in modules:
                randomize_(named[name], generator)
            now = maps(chosen)
            steps.append(SanityStep(stage, modules, now, {m: spearman(trained[m], now[m]) for m in methods}))
    return SanityCheck(chosen, layer, methods, trained, tuple(steps), time.perf_counter() - start)
