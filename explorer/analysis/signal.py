"""Signal flow: how big the activations and the gradients are at every depth of a network.

For each conv/linear layer, in depth order (the ``depth`` of :mod:`explorer.measure.profile`:
1-based position among conv/linear layers in execution order), one forward and one backward pass
over a small batch of generated shapes images (:mod:`explorer.data.shapes`) measure

    activation_std    standard deviation of the layer's output over the whole batch
    activation_mean   mean of that output
    grad_norm         L2 norm of d(loss)/d(output), loss = mean cross-entropy over the batch
    weight_grad_norm  L2 norm of d(loss)/d(weight) (only when asked for: it costs the weight grads)

Conventions: inputs are the shapes images standardised as ``(x - INPUT_MEAN) / INPUT_STD`` (0.5 and
0.25, from :mod:`explorer.data.shapes`); labels are the shape classes (modulo ``classes``). By
default the model runs in training mode, so batch norm normalises with the batch's statistics, as it
does when the network learns (a fresh network in eval mode would use its initial running statistics:
BN would be the identity). The model handed in
comes back unchanged: hooks removed, train/eval mode restored, BN running statistics restored, no
``.grad`` written (gradients come from ``torch.autograd.grad``). Two analyses of the same model
object never run at once (a per-model lock), so concurrent sessions never mix their hooks.

Values may be ``inf`` or ``nan`` (ResNet-1001 at a bad init, plain-1000): they are kept as such and
:attr:`SignalResult.problems` names where they start, e.g. "activations overflow at layer 412".
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from explorer.data.shapes import ShapesDataset, standardise
from explorer.errors import InputError
from explorer.families import BuiltModel
from explorer.knobs import ModelConfig, format_query
from explorer.measure.hooks import hooked, model_lock
from explorer.measure.profile import WEIGHTED_TYPES
from explorer.runtime.device import full_float32
from explorer.runtime.models import build_seeded  # the one seeded builder (weights drawn on the CPU)

__all__ = [
    "Problem",
    "SignalPoint",
    "SignalResult",
    "probe_batch",
    "signal",
    "weighted_layers",
]


@dataclass(frozen=True)
class SignalPoint:
    depth: int
    name: str
    type: str
    stage: str
    block: str | None
    activation_std: float
    activation_mean: float
    grad_norm: float
    weight_grad_norm: float | None = None
    #: The output holds +-inf values (checked only where the std is not finite).
    activation_overflow: bool = False


@dataclass(frozen=True)
class Problem:
    """Where a measure stops being a usable number: ``kind`` is overflow, nan or vanish."""

    quantity: str  # "activations" or "gradients"
    kind: str
    depth: int
    name: str

    @property
    def message(self) -> str:
        where = f"layer {self.depth} ({self.name})"
        if self.kind == "overflow":
            return f"{self.quantity} overflow at {where}"
        if self.kind == "nan":
            return f"{self.quantity} become NaN at {where}"
        side = "from" if self.quantity == "activations" else "below"
        return f"{self.quantity} vanish (exactly zero) {side} {where}"


@dataclass(frozen=True)
class SignalResult:
    query: str
    batch: int
    seed: int
    resolution: int
    training: bool
    loss: float
    points: tuple[SignalPoint, ...] = field(repr=False)
    #: (stage name, depth of its first point), in depth order.
    stages: tuple[tuple[str, int], ...] = ()

    @property
    def problems(self) -> tuple[Problem, ...]:
        return _problems(self.points, self.loss)

    def series(self, metric: str) -> list[float | None]:
        return [getattr(p, metric) for p in self.points]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["stages"] = [{"name": name, "depth": depth} for name, depth in self.stages]
        data["problems"] = [{**asdict(p), "message": p.message} for p in self.problems]
        return json_safe(data)


def json_safe(value: Any) -> Any:
    """Non-finite floats as the strings "nan", "inf", "-inf" (JSON has no such numbers)."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def _first_bad(points: tuple[SignalPoint, ...], metric: str, reverse: bool = False) -> tuple[str, SignalPoint] | None:
    ordered = reversed(points) if reverse else points
    for point in ordered:
        value = getattr(point, metric)
        if value is None or math.isfinite(value):
            continue
        overflow = math.isinf(value) or (metric.startswith("activation") and point.activation_overflow)
        return ("overflow" if overflow else "nan"), point
    return None


def _problems(points: tuple[SignalPoint, ...], loss: float) -> tuple[Problem, ...]:
    found: list[Problem] = []
    bad = _first_bad(points, "activation_std")
    if bad is None:  # std overflows to inf before the mean does; the mean can show NaN first
        bad = _first_bad(points, "activation_mean")
    if bad is not None:
        found.append(Problem("activations", bad[0], bad[1].depth, bad[1].name))
    else:
        zero = next((p for p in points if p.activation_std == 0.0 and p.activation_mean == 0.0), None)
        if zero is not None:
            found.append(Problem("activations", "vanish", zero.depth, zero.name))
    if math.isfinite(loss):  # a non-finite loss makes every gradient non-finite: the activations said why
        bad = _first_bad(points, "grad_norm", reverse=True)  # gradients flow from the top down
        if bad is not None:
            found.append(Problem("gradients", bad[0], bad[1].depth, bad[1].name))
        else:
            zero = next((p for p in reversed(points) if p.grad_norm == 0.0), None)
            if zero is not None:
                found.append(Problem("gradients", "vanish", zero.depth, zero.name))
    return tuple(found)


def weighted_layers(model: nn.Module) -> dict[str, nn.Module]:
    """The conv/linear layers (the ones with a ``depth``), by module path, in definition order."""
    return {name: m for name, m in model.named_modules() if name and isinstance(m, WEIGHTED_TYPES)}


def probe_batch(
    batch: int, resolution: int, in_channels: int, classes: int, seed: int = 0, device: torch.device | None = None
) -> tuple[Tensor, Tensor]:
    """Standardised shapes images ``(batch, in_channels, resolution, resolution)`` and their labels."""
    data = ShapesDataset(resolution=resolution, in_channels=in_channels, seed=seed).batch(range(batch))
    x = standardise(data.images)
    return x.to(device), (data.labels % classes).to(device)


# -- measuring -------------------------------------------------------------------------------------------
@dataclass
class Trace:
    """What one hooked forward/backward recorded (tensors until :meth:`points`)."""

    order: list[str] = field(default_factory=list)
    stats: dict[str, Tensor] = field(default_factory=dict)  # name -> (std, mean)
    grads: dict[str, Tensor] = field(default_factory=dict)
    weight_grads: dict[str, Tensor] = field(default_factory=dict)

    def points(self, built: BuiltModel, layers: dict[str, nn.Module]) -> tuple[SignalPoint, ...]:
        if not self.order:
            return ()
        # One transfer per quantity: the numbers leave the device here, and only here.
        stats = torch.stack([self.stats[n] for n in self.order]).double().cpu().tolist()
        device = self.stats[self.order[0]].device
        nan = torch.tensor(math.nan, device=device)
        grads = torch.stack([self.grads.get(n, nan) for n in self.order]).double().cpu().tolist()
        weight = (
            torch.stack([self.weight_grads.get(n, nan) for n in self.order]).double().cpu().tolist()
            if self.weight_grads
            else [None] * len(self.order)
        )
        return tuple(
            SignalPoint(
                depth=i + 1,
                name=name,
                type=type(layers[name]).__name__,
                stage=built.stage_of(name).name,
                block=built.block_of(name),
                activation_std=std,
                activation_mean=mean,
                grad_norm=grad,
                weight_grad_norm=w,
                activation_overflow=bool(overflow),
            )
            for i, (name, (std, mean, overflow), grad, w) in enumerate(
                zip(self.order, stats, grads, weight, strict=True)
            )
        )


@contextmanager
def tracing(model: nn.Module, layers: dict[str, nn.Module], training: bool | None) -> Iterator[Trace]:
    """Hooks on ``layers`` (through :func:`explorer.measure.hooks.hooked`) that fill a :class:`Trace`."""
    trace = Trace()

    def forward(name: str):
        def hook(module: nn.Module, inputs: tuple[Any, ...], output: Any) -> None:
            if name not in trace.stats and isinstance(output, Tensor):
                trace.order.append(name)
                values = output.detach().float()
                std, mean = torch.std_mean(values) if values.numel() > 1 else (values.new_zeros(()), values)
                std, mean = std.reshape(()), mean.reshape(())
                # Does the output hold infinities (looked at only where the std is not finite)?
                if values.device.type == "cpu":  # reading the std is free here; on a GPU it would sync each layer
                    finite = bool(torch.isfinite(std))
                    overflow = std.new_zeros((), dtype=torch.bool) if finite else values.isinf().any()
                else:
                    overflow = values.isinf().any() & ~torch.isfinite(std)
                trace.stats[name] = torch.stack([std, mean, overflow.to(std.dtype)])

        return hook

    def backward(name: str):
        def hook(grad: Tensor) -> None:
            trace.grads.setdefault(name, torch.linalg.vector_norm(grad.detach().float()))

        return hook

    with hooked(
        model,
        forward={n: forward(n) for n in layers},
        output_grad={n: backward(n) for n in layers},
        training=training,
    ):
        yield trace


@contextmanager
def preserved_buffers(model: nn.Module) -> Iterator[None]:
    """Put every buffer (BN running statistics, batch counters) back as it was afterwards."""
    saved = [(b, b.detach().clone()) for b in model.buffers()]
    try:
        yield
    finally:
        with torch.no_grad():
            for buffer, value in saved:
                buffer.copy_(value)


def signal(
    config: ModelConfig,
    built: BuiltModel | None = None,
    *,
    batch: int = 4,
    seed: int = 0,
    resolution: int | None = None,
    training: bool = True,
    weight_grads: bool = False,
    device: str | torch.device | None = None,
) -> SignalResult:
    """Measure the signal flow of ``config`` (or of ``built``, a model of it, left unchanged).

    ``resolution`` overrides the input side (the models here pool adaptively, so a smaller probe
    gives the same picture faster); ``seed`` picks both the weights (when building) and the images.
    Weights are drawn on the CPU and the analysis computes in full float32 (TF32 off, see
    :func:`explorer.runtime.device.full_float32`), so the same config and seed give the same curves on
    every device, within float32 rounding.
    """
    if batch < 1:
        raise InputError(f"batch={batch}; allowed: 1 or more")
    if training and batch < 2:
        raise InputError("batch=1 with batch norm in training mode has no batch statistics; use batch 2 or more")
    built = built or build_seeded(config, seed, device)
    model = built.module
    first = next(model.parameters(), None)
    target = first.device if first is not None else torch.device(device or "cpu")
    if target.type == "meta":
        raise InputError("signal flow needs real weights, not a meta-device model")
    side = resolution or config.input_resolution
    x, y = probe_batch(batch, side, config.in_channels, config.classes, seed, target)
    x.requires_grad_(True)  # the backward pass then reaches every layer without touching weights' .grad
    layers = weighted_layers(model)
    with full_float32(), model_lock(model), preserved_buffers(model), tracing(model, layers, training) as trace:
        logits = model(x)
        loss = F.cross_entropy(logits.float(), y)
        params = {n: cast(Tensor, layers[n].weight) for n in trace.order} if weight_grads else {}
        grads = torch.autograd.grad(loss, [x, *params.values()], allow_unused=True)
        for name, grad in zip(params, grads[1:], strict=True):
            if grad is not None:
                trace.weight_grads[name] = torch.linalg.vector_norm(grad.float())
        points = trace.points(built, layers)
    return SignalResult(
        query=format_query(config),
        batch=batch,
        seed=seed,
        resolution=side,
        training=training,
        loss=float(loss.detach()),
        points=points,
        stages=stage_starts(points),
    )


def stage_starts(points: tuple[SignalPoint, ...]) -> tuple[tuple[str, int], ...]:
    starts: list[tuple[str, int]] = []
    for point in points:
        if not starts or starts[-1][0] != point.stage:
            starts.append((point.stage, point.depth))
    return tuple(starts)


# -- comparison variants ------------------------------------------------------------------------------
#: Named one-knob changes of a config, for overlaying curves ("the same network with skips").
#: The changes of a config whose curves the Signal page can overlay (their labels:
#: ``explorer.views.signal.VARIANT_LABELS``).
VARIANTS = ("skip", "bn", "init=default", "init=kaiming", "init=xavier", "init=orthogonal", "depth*2", "depth/2")


def variant_config(config: ModelConfig, name: str) -> ModelConfig | None:
    """``config`` with the change ``name`` of :data:`VARIANTS`, or None where it does not apply
    (the family lacks the knob, the change gives an invalid config, or no change at all)."""
    from explorer.knobs import ConfigError, knobs, replace

    spec = knobs(type(config))
    key, _, value = name.partition("=")
    changes: dict[str, Any]
    if name in ("skip", "bn"):
        if name not in spec:
            return None
        changes = {name: not getattr(config, name)}
    elif key == "init":
        if "init" not in spec or value not in spec["init"].choices:
            return None
        changes = {"init": value}
    elif name in ("depth*2", "depth/2"):
        if "depth" not in spec or spec["depth"].kind != "int" or spec["depth"].choices:
            return None
        current = int(getattr(config, "depth"))  # noqa: B009  (checked above: the family has a depth knob)
        depth = current * 2 if name == "depth*2" else current // 2
        changes = {"depth": depth}
    else:
        raise InputError(f"unknown variant '{name}'; allowed: {', '.join(VARIANTS)}")
    try:
        changed = replace(config, **changes)
    except ConfigError:
        return None
    return None if changed == config else changed


def changed_keys(config: ModelConfig, reference: ModelConfig) -> str:
    """The keys where ``config`` differs from ``reference``, as ``key=value&...`` (a short label)."""
    from explorer.knobs import knobs

    if type(config) is not type(reference):
        return format_query(config)
    spec = knobs(type(config))
    parts = [
        f"{k}={spec[k].format(getattr(config, k))}"
        for k in spec
        if getattr(config, k) != getattr(reference, k) and getattr(config, k) is not None
    ]
    return "&".join(parts) or "same"


def comparison_curves(
    config: ModelConfig, variants: list[str] | tuple[str, ...] = (), pins: list[str] | tuple[str, ...] = ()
) -> tuple[list[tuple[str, ModelConfig]], list[str]]:
    """The curves to overlay: ``config`` ("current"), each applicable variant of it (labelled with
    the keys it changes) and each pinned query, without duplicates (the first label wins). Also
    returns the names of the variants that do not apply to this config."""
    from explorer.config import parse_query

    curves: list[tuple[str, ModelConfig]] = [("current", config)]
    skipped: list[str] = []
    for name in variants:
        other = variant_config(config, name)
        if other is None:
            skipped.append(name)
        elif all(other != c for _, c in curves):
            curves.append((changed_keys(other, config), other))
    for query in pins:
        pinned = parse_query(query)
        if all(pinned != c for _, c in curves):
            curves.append((query, pinned))
    return curves, skipped


#: Probe input sides offered, and the one preferred for live curves (the curves look the same at a
#: smaller input, and come faster).
PROBE_SIDES = (16, 32, 64, 112, 160, 224, 320, 448)
LIVE_SIDE = 64


def probe_sides(config: ModelConfig) -> tuple[list[int], int]:
    """The probe sides that suit ``config`` (at least its smallest input, at most its own, which is
    always offered) and the default: the largest not above :data:`LIVE_SIDE`."""
    natural = config.input_resolution
    sides = sorted({s for s in PROBE_SIDES if config.min_resolution <= s <= natural} | {natural})
    return sides, max((s for s in sides if s <= LIVE_SIDE), default=sides[0])


class Statistics(enum.Enum):
    """What batch norm normalises with during a probe: the batch's own statistics (training mode) or
    the running ones (eval mode; a fresh network's are mean 0, variance 1)."""

    BATCH = "batch"
    RUNNING = "running"

    @property
    def training(self) -> bool:
        return self is Statistics.BATCH
