"""The lesson experiments that count instead of train: profiles side by side (and the depthwise-
separable ratio, and torchvision's published accuracies), compound and MobileNet scaling, training
memory. Each takes a lesson and returns an :class:`Outcome`; the parameters a lesson file may set are
the ``*_PARAMS`` below, with their defaults."""

from __future__ import annotations

from typing import Any

from explorer.analysis.lessons.model import Lesson, Outcome, Panel, Series
from explorer.config import parse_query

__all__ = [
    "MEMORY_PARAMS",
    "PROFILE_PARAMS",
    "SCALING_PARAMS",
    "memory_comparison",
    "profile_comparison",
    "scaling_sweep",
    "separable_ratio",
]

PROFILE_PARAMS: dict[str, Any] = {"mode": "configs", "dk": 3, "m": 64, "n": 128, "side": 14, "weights": "default"}
SCALING_PARAMS: dict[str, Any] = {
    "mode": "compound",
    "alpha": 1.2,
    "beta": 1.1,
    "gamma": 1.15,
    "phis": [0, 1, 2, 3],
    "alphas": [1.0, 0.75, 0.5, 0.25],
    "resolutions": [224, 192, 160, 128],
}
MEMORY_PARAMS: dict[str, Any] = {"batch": 8}
_DEFAULTS = {"profile_comparison": PROFILE_PARAMS, "scaling_sweep": SCALING_PARAMS, "memory_comparison": MEMORY_PARAMS}


def _param(lesson: Lesson, name: str) -> Any:
    return lesson.params.get(name, _DEFAULTS[lesson.kind][name])


def _published(preset: str) -> tuple[float, str] | None:
    from explorer.analysis.published import torchvision_name, torchvision_weights

    model = torchvision_name(preset)
    if model is None:
        return None
    entries = torchvision_weights(model, preset)
    entry = next((e for e in entries if e.weights == "IMAGENET1K_V1"), None) or next(e for e in entries if e.default)
    return entry.top1, entry.weights


def profile_comparison(lesson: Lesson, device: str) -> Outcome:
    from explorer.measure.profile import profile

    mode = _param(lesson, "mode")
    if mode == "separable":
        return _separable(lesson)
    if mode == "published":
        return _published_scatter(lesson)
    values: dict[str, float] = {}
    table = []
    for config in lesson.configs:
        model_config = parse_query(config.query)
        result = profile(model_config)
        row: dict[str, Any] = {
            "config": config.label,
            "query": result.query,
            "params": result.params,
            "macs": result.macs,
        }
        values |= {f"{config.label}.params": result.params, f"{config.label}.macs": result.macs}
        preset = dict(part.split("=", 1) for part in config.query.split("&")).get("preset")
        published = _published(preset) if preset else None
        if published is not None:
            values[f"{config.label}.top1"] = published[0]
            row |= {"top-1 (torchvision)": published[0], "weights": published[1]}
        table.append(row)
    labels = tuple(c.label for c in lesson.configs)
    if len(labels) >= 2:  # the last config against the first
        values["params_ratio"] = values[f"{labels[-1]}.params"] / values[f"{labels[0]}.params"]
        values["macs_ratio"] = values[f"{labels[-1]}.macs"] / values[f"{labels[0]}.macs"]
    panels = [
        Panel(
            "Parameters",
            "",
            "parameters",
            "bar",
            (Series("params", labels, tuple(values[f"{c}.params"] for c in labels)),),
        ),
        Panel(
            "MACs at batch 1", "", "MACs", "bar", (Series("MACs", labels, tuple(values[f"{c}.macs"] for c in labels)),)
        ),
    ]
    if all(f"{c}.top1" in values for c in labels):
        panels.append(
            Panel(
                "Published top-1 (ImageNet, torchvision)",
                "",
                "top-1 %",
                "bar",
                (Series("top-1", labels, tuple(values[f"{c}.top1"] for c in labels)),),
            )
        )
    return Outcome(values, tuple(panels), tuple(table))


def _conv_macs(*layers: Any, channels: int, side: int) -> int:
    """MACs of ``layers`` applied in turn to a ``channels x side x side`` input (meta device)."""
    import torch

    from explorer.measure.counting import counting

    x = torch.zeros(1, channels, side, side, device="meta")
    with counting() as counter, torch.no_grad():
        for layer in layers:
            x = layer.to("meta")(x)
    return counter.total // 2


def separable_ratio(dk: int, m: int, n: int, side: int = 14) -> tuple[int, int]:
    """Measured MACs of a standard ``dk x dk`` conv M->N and of its depthwise-separable version
    (depthwise ``dk x dk`` on M channels, then a 1x1 conv M->N), on a ``side x side`` map, no bias."""
    from torch import nn

    standard = _conv_macs(nn.Conv2d(m, n, dk, padding=dk // 2, bias=False), channels=m, side=side)
    separable = _conv_macs(
        nn.Conv2d(m, m, dk, padding=dk // 2, groups=m, bias=False),
        nn.Conv2d(m, n, 1, bias=False),
        channels=m,
        side=side,
    )
    return standard, separable


def _separable(lesson: Lesson) -> Outcome:
    dk, m, n, side = (int(_param(lesson, k)) for k in ("dk", "m", "n", "side"))
    standard, separable = separable_ratio(dk, m, n, side)
    values = {
        "standard_macs": standard,
        "separable_macs": separable,
        "measured_ratio": separable / standard,
        "formula_ratio": 1 / n + 1 / dk**2,
    }
    values["formula_error"] = abs(values["measured_ratio"] - values["formula_ratio"]) / values["formula_ratio"]
    panels, table = [], []
    for kernel in sorted({1, 3, 5, 7, dk}):
        outputs = sorted({8, 32, 128, 512, n})
        measured = []
        for out in outputs:
            s, d = separable_ratio(kernel, m, out, side)
            measured.append(d / s)
            table.append(
                {
                    "Dk": kernel,
                    "M": m,
                    "N": out,
                    "standard MACs": s,
                    "separable MACs": d,
                    "measured ratio": d / s,
                    "1/N + 1/Dk²": 1 / out + 1 / kernel**2,
                }
            )
        panels.append(Series(f"measured, Dk={kernel}", tuple(outputs), tuple(measured)))
        panels.append(
            Series(f"1/N + 1/Dk², Dk={kernel}", tuple(outputs), tuple(1 / o + 1 / kernel**2 for o in outputs))
        )
    return Outcome(
        values,
        (
            Panel(
                f"Separable / standard MACs (M={m}, {side}×{side} map)",
                "N (output channels)",
                "cost ratio",
                "line",
                tuple(panels),
                log_y=True,
                log_x=True,
            ),
        ),
        tuple(table),
    )


def _published_scatter(lesson: Lesson) -> Outcome:
    from explorer.analysis.published import published_accuracies

    entries = published_accuracies(_param(lesson, "weights"))
    values: dict[str, float] = {}
    for entry in entries:
        values[f"{entry.preset}.top1"] = entry.top1
        values[f"{entry.preset}.params"] = entry.params
    series = Series(
        "torchvision ImageNet weights",
        tuple(e.params for e in entries),
        tuple(e.top1 for e in entries),
        text=tuple(e.preset or e.model for e in entries),
    )
    table = tuple(
        {"model": e.preset, "params": e.params, "GMACs": e.gmacs, "top-1": e.top1, "weights": e.weights}
        for e in entries
    )
    return Outcome(
        values,
        (Panel("Published top-1 against parameters", "parameters", "top-1 %", "scatter", (series,), log_x=True),),
        table,
    )


def scaling_sweep(lesson: Lesson, device: str) -> Outcome:
    mode = _param(lesson, "mode")
    if mode == "mobilenet":
        return _mobilenet(lesson)
    from explorer.analysis.scaling import Rule, sweep

    rule = Rule(alpha=_param(lesson, "alpha"), beta=_param(lesson, "beta"), gamma=_param(lesson, "gamma"))
    phis = [float(p) for p in _param(lesson, "phis")]
    points = sweep(parse_query(lesson.configs[0].query), rule, phis)
    base = points[0].macs
    values: dict[str, float] = {}
    table = []
    for point in points:
        key = f"phi{point.phi:g}"
        values |= {
            f"{key}.macs_ratio": point.macs / base,
            f"{key}.nominal": 2.0**point.phi,
            f"{key}.vs_nominal": point.macs / point.nominal_macs,
            f"{key}.vs_rule": point.macs_vs_rule,
        }
        table.append(
            {
                "φ": point.phi,
                "query": point.query,
                "MACs": point.macs,
                "measured ×": point.macs / base,
                "2^φ": 2.0**point.phi,
                "rule (αβ²γ²)^φ": point.predicted_macs / base,
                "notes": "; ".join(point.notes),
            }
        )
    xs = tuple(p.phi for p in points)
    return Outcome(
        values,
        (
            Panel(
                "MACs relative to φ=0",
                "φ",
                "× MACs",
                "line",
                (
                    Series("measured", xs, tuple(p.macs / base for p in points)),
                    Series("2^φ", xs, tuple(2.0**p.phi for p in points)),
                    Series("(αβ²γ²)^φ", xs, tuple(p.predicted_macs / base for p in points)),
                ),
                log_y=True,
            ),
        ),
        tuple(table),
    )


def _mobilenet(lesson: Lesson) -> Outcome:
    from explorer.analysis.scaling import mobilenet_grid

    alphas = [float(a) for a in _param(lesson, "alphas")]
    sides = [int(r) for r in _param(lesson, "resolutions")]
    cells = mobilenet_grid(alphas, sides)
    full = next(c for c in cells if c.alpha == max(alphas) and c.resolution == max(sides))
    values: dict[str, float] = {}
    table, series = [], []
    for alpha in alphas:
        row = [c for c in cells if c.alpha == alpha]
        measured = tuple(c.macs / full.macs for c in row)
        series.append(Series(f"α={alpha:g} measured", tuple(c.resolution for c in row), measured))
        series.append(
            Series(
                f"α={alpha:g}: α²ρ²",
                tuple(c.resolution for c in row),
                tuple((alpha / max(alphas)) ** 2 * (c.resolution / max(sides)) ** 2 for c in row),
            )
        )
    for cell in cells:
        predicted = (cell.alpha / max(alphas)) ** 2 * (cell.resolution / max(sides)) ** 2
        key = f"a{cell.alpha:g}_r{cell.resolution}"
        values |= {
            f"{key}.macs_ratio": cell.macs / full.macs,
            f"{key}.predicted": predicted,
            f"{key}.vs_predicted": cell.macs / full.macs / predicted,
        }
        table.append(
            {
                "α": cell.alpha,
                "resolution": cell.resolution,
                "MACs": cell.macs,
                "params": cell.params,
                "measured / full": cell.macs / full.macs,
                "α²ρ²": predicted,
            }
        )
    values["worst_vs_predicted"] = max(abs(v - 1) for k, v in values.items() if k.endswith(".vs_predicted"))
    return Outcome(
        values,
        (
            Panel(
                "MobileNet-V1 MACs relative to α=1, 224 px", "resolution", "× MACs", "line", tuple(series), log_y=True
            ),
        ),
        tuple(table),
    )


def memory_comparison(lesson: Lesson, device: str) -> Outcome:
    from explorer.measure.memory import training_memory
    from explorer.measure.profile import profile

    batch = _param(lesson, "batch")
    values: dict[str, float] = {}
    table, saved, inference = [], [], []
    for config in lesson.configs:
        model_config = parse_query(config.query)
        memory = training_memory(model_config, batch)
        result = profile(model_config)
        values |= {
            f"{config.label}.saved_bytes": memory.saved_bytes,
            f"{config.label}.params": result.params,
            f"{config.label}.activation_bytes": result.activation_bytes * batch,
            f"{config.label}.saved_per_param": memory.saved_bytes / result.params,
        }
        saved.append(memory.saved_bytes / 1e6)
        inference.append(result.activation_bytes * batch / 1e6)
        table.append(
            {
                "config": config.label,
                "query": result.query,
                "params": result.params,
                f"saved for backward, batch {batch} (MB)": memory.saved_bytes / 1e6,
                f"inference activations, batch {batch} (MB)": result.activation_bytes * batch / 1e6,
            }
        )
    labels = tuple(c.label for c in lesson.configs)
    return Outcome(
        values,
        (
            Panel(
                f"Memory at batch {batch}",
                "",
                "MB",
                "bar",
                (
                    Series("saved for backward (training)", labels, tuple(saved)),
                    Series("all layer outputs (inference)", labels, tuple(inference)),
                ),
            ),
        ),
        tuple(table),
    )
