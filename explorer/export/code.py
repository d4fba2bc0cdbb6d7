"""A design as one standalone Python file: ``build_model()`` makes exactly the model of the query,
with only torch and torchvision installed.

Three ways, the most familiar first:

* a canonical torchvision model (a preset of the same name, any ``classes``) is the torchvision
  call with its arguments: ``torchvision.models.resnet50(num_classes=10)``;
* a design that torchvision's classes express is that class with explicit arguments: ResNet's block
  and layers, DenseNet's growth rate and block config, MobileNetV2/V3's width, EfficientNet's
  ``MBConvConfig`` list;
* anything else uses the explorer's own modules, written out from the project's source by
  :mod:`explorer.export.source` (the code the app runs, not a copy), built from a small
  ``<Family>Design`` dataclass that holds exactly the settings those modules read.

Module names are the explorer's in all three, so state dicts move both ways with ``strict=True``.
A first conv for other than 3 input channels is replaced as the explorer's builders replace it.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from explorer.config import preset_config
from explorer.export.source import Standalone, standalone
from explorer.families import PRESETS
from explorer.families.efficientnet import head_settings
from explorer.knobs import ModelConfig, format_query

if TYPE_CHECKING:
    from torch import nn

__all__ = ["ModelCode", "model_code"]

#: Presets that torchvision builds under the same name, and the arguments that make its model the
#: explorer's (GoogLeNet and Inception: no warning about initialisation, the explorer's transform).
TORCHVISION_CALLS: dict[str, dict[str, Any]] = {
    **{name: {} for name in ("alexnet", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152")},
    **{name: {} for name in ("wide_resnet50_2", "resnext50_32x4d", "densenet121", "densenet161")},
    **{name: {} for name in ("densenet169", "densenet201", "mobilenet_v2", "mobilenet_v3_large")},
    "mobilenet_v3_small": {},
    **{f"vgg{d}{bn}": {} for d in (11, 13, 16, 19) for bn in ("", "_bn")},
    **{f"efficientnet_b{i}": {} for i in range(8)},  # their dropout and BatchNorm are torchvision's
    "googlenet": {"aux_logits": False, "transform_input": True, "init_weights": True},
    "inception_v3": {"aux_logits": True, "transform_input": True, "init_weights": True},
}

#: family -> (module, class) of the explorer's own model class that takes the design
OWN_MODELS: dict[str, tuple[str, str]] = {
    "resnet": ("explorer.families.nets.resnet", "ExplorerResNet"),
    "densenet": ("explorer.families.nets.densenet", "ExplorerDenseNet"),
    "alexnet": ("explorer.families.nets.alexnet", "ExplorerAlexNet"),
    "googlenet": ("explorer.families.nets.googlenet", "ExplorerGoogLeNet"),
    "inception_v3": ("explorer.families.nets.inception", "ExplorerInception3"),
    "plain": ("explorer.families.nets.plain", "PlainNet"),
}

_DEFORMABLE = ("explorer.families.nets.deformable", "DeformableConv2d")
_DEFORMABLE_STUB = '''class DeformableConv2d(nn.Module):
    """Not used by this design (it has no deformable convolutions): named only by code paths that
    this design does not take. Export a design with ``deform`` on to get the real layer."""'''


@dataclass(frozen=True)
class ModelCode:
    """The file's text and how it builds the model: ``torchvision`` (a torchvision call),
    ``torchvision classes`` (torchvision's classes with explicit arguments) or ``own classes``."""

    text: str
    query: str
    how: str


@dataclass
class _Plan:
    how: str
    body: list[str]
    code: Standalone = dataclasses.field(default_factory=Standalone)


# -- values as code ------------------------------------------------------------------------------


def _literal(value: Any) -> str:
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, tuple):
        return "(" + ", ".join(map(_literal, value)) + ("," if len(value) == 1 else "") + ")"
    if isinstance(value, list):
        return "[" + ", ".join(map(_literal, value)) + "]"
    if value is None or isinstance(value, (bool, int, str)):
        return repr(value)
    raise TypeError(f"no literal for {type(value).__name__}")


def _call(name: str, args: tuple[Any, ...] = (), kwargs: dict[str, Any] | None = None) -> str:
    parts = [_literal(a) for a in args] + [f"{k}={_literal(v)}" for k, v in (kwargs or {}).items()]
    return f"{name}({', '.join(parts)})"


def _attribute_path(path: str) -> str:
    """``features.0.0`` -> ``model.features[0][0]``."""
    out = "model"
    for part in path.split("."):
        out += f"[{part}]" if part.isdigit() else f".{part}"
    return out


def _first_conv_line(model: nn.Module, in_channels: int) -> list[str]:
    """The line that gives the first conv ``in_channels`` inputs (what the explorer's builders do)."""
    from torch import nn

    if in_channels == 3:
        return []
    name, conv = next((n, m) for n, m in model.named_modules() if isinstance(m, nn.Conv2d))
    args: dict[str, Any] = {
        "kernel_size": conv.kernel_size,
        "stride": conv.stride,
        "padding": conv.padding,
        "bias": conv.bias is not None,
    }
    if conv.groups != 1:
        args["groups"] = conv.groups
    if conv.dilation != (1, 1):
        args["dilation"] = conv.dilation
    target = _attribute_path(name)
    return [
        f"# {in_channels} input channels: the first conv reads them (torchvision's reads 3)",
        f"{target} = {_call('nn.Conv2d', (in_channels, conv.out_channels), args)}",
    ]


# -- the three ways --------------------------------------------------------------------------------


def _torchvision_name(config: ModelConfig) -> str | None:
    """The torchvision model this config is, up to ``classes``, ``in_channels`` and the input side."""
    for name in TORCHVISION_CALLS:
        if name not in PRESETS:
            continue
        preset = preset_config(name)
        if type(preset) is type(config):
            same = dataclasses.replace(config, classes=1000, in_channels=3, resolution=preset.resolution)
            if same == preset:
                return name
    return None


def _torchvision_call(name: str, config: ModelConfig) -> _Plan:
    kwargs = ({"num_classes": config.classes} if config.classes != 1000 else {}) | TORCHVISION_CALLS[name]
    plan = _Plan("torchvision", [f"model = {_call(f'torchvision.models.{name}', (), kwargs)}"])
    plan.code.add_import("import torchvision")
    return plan


def _resnet_classes(cfg: Any) -> _Plan | None:
    plain_torchvision = cfg.stem == "imagenet" and cfg.skip and cfg.bn and not cfg.preact and not cfg.deform
    if not plain_torchvision or cfg.base_width != 64 or cfg.num_stages != 4:
        return None
    block = "BasicBlock" if cfg.block_type == "basic" else "Bottleneck"
    kwargs: dict[str, Any] = {"num_classes": cfg.classes}
    if cfg.groups != 1:
        kwargs["groups"] = cfg.groups
    if cfg.width_per_group != 64:
        kwargs["width_per_group"] = cfg.width_per_group
    plan = _Plan("torchvision classes", [f"model = ResNet({block}, {_literal(list(cfg.stage_blocks))}"])
    plan.body[0] += "".join(f", {k}={_literal(v)}" for k, v in kwargs.items()) + ")"
    plan.code.add_import(f"from torchvision.models.resnet import {block}, ResNet")
    return plan


def _densenet_classes(cfg: Any) -> _Plan | None:
    if cfg.stem != "imagenet" or cfg.compression != 0.5 or len(cfg.block_layout) != 4:
        return None  # torchvision's DenseNet halves the channels at each transition, and names norm5
    kwargs = {
        "growth_rate": cfg.k,
        "block_config": tuple(cfg.block_layout),
        "num_init_features": 2 * cfg.k,
        "bn_size": cfg.bn_size,
        "num_classes": cfg.classes,
    }
    plan = _Plan("torchvision classes", [f"model = {_call('DenseNet', (), kwargs)}"])
    plan.code.add_import("from torchvision.models.densenet import DenseNet")
    return plan


def _mobilenet_v2_classes(cfg: Any) -> _Plan:
    plan = _Plan(
        "torchvision classes",
        [f"model = {_call('MobileNetV2', (), {'num_classes': cfg.classes, 'width_mult': cfg.alpha})}"],
    )
    plan.code.add_import("from torchvision.models.mobilenetv2 import MobileNetV2")
    return plan


def _mobilenet_v3_classes(cfg: Any) -> _Plan:
    kwargs = {"num_classes": cfg.classes, "width_mult": cfg.alpha}
    plan = _Plan("torchvision classes", [f"model = {_call(f'torchvision.models.mobilenet_v3_{cfg.size}', (), kwargs)}"])
    plan.code.add_import("import torchvision")
    return plan


#: EfficientNet-B0's stages (torchvision's table), which width_mult and depth_mult scale
_B0_STAGES = (
    (1, 3, 1, 32, 16, 1),
    (6, 3, 2, 16, 24, 2),
    (6, 5, 2, 24, 40, 2),
    (6, 3, 2, 40, 80, 3),
    (6, 5, 1, 80, 112, 3),
    (6, 5, 2, 112, 192, 4),
    (6, 3, 1, 192, 320, 1),
)


def _multiplier(value: float, base: float | None, phi: float, name: str) -> str:
    """``beta ** phi`` when the query derives the multiplier, else the number."""
    return f"{base!r} ** {phi!r}  # {name} ** phi" if base is not None else repr(value)


def _efficientnet_lite(cfg: Any) -> _Plan:
    """EfficientNet-Lite is the project's own module (torchvision's MBConv always has SE and SiLU)."""
    code = _own_code(
        [("explorer.families.nets.efficientnet", "EfficientNetLite"), ("explorer.families.efficientnet", "MBStage")],
        deformable=False,
    )
    fields = ("expand_ratio", "kernel", "stride", "in_channels", "out_channels", "layers")
    body = [
        "# EfficientNet-Lite's stages at this design's multipliers: channels x width to multiples of 8,",
        "# repeats x depth rounded up, except the first and last stage's (stem 32 and head 1280 stay fixed)",
        "stages = (",
        *(f"    MBStage({', '.join(f'{n}={getattr(stage, n)}' for n in fields)})," for stage in cfg.lite_stages()),
        ")",
        f"model = EfficientNetLite(stages, num_classes={cfg.classes}, in_channels={cfg.in_channels})",
    ]
    return _Plan("own classes", body, code)


def _efficientnet_classes(cfg: Any) -> _Plan:
    if cfg.lite:
        return _efficientnet_lite(cfg)
    width = _multiplier(cfg.width, cfg.beta if cfg.width_mult is None else None, cfg.phi, "beta")
    depth = _multiplier(cfg.depth, cfg.alpha if cfg.depth_mult is None else None, cfg.phi, "alpha")
    body = [
        "# EfficientNet-B0's stages; width_mult scales the channels (to multiples of 8) and depth_mult",
        "# the repeats (rounded up), as torchvision's MBConvConfig does",
        f"width_mult = {width}",
        f"depth_mult = {depth}",
        "stage = partial(MBConvConfig, width_mult=width_mult, depth_mult=depth_mult)",
        "settings = [",
    ]
    names = ("expand_ratio", "kernel", "stride", "input_channels", "out_channels", "num_layers")
    for row in _B0_STAGES:
        body.append(f"    stage({', '.join(f'{n}={v}' for n, v in zip(names, row, strict=True))}),")
    dropout, norm = head_settings(cfg)
    norm_layer = f", norm_layer=partial(nn.BatchNorm2d, eps={norm[0]:g}, momentum={norm[1]:g})" if norm else ""
    body += ["]", f"model = EfficientNet(settings, dropout={dropout:g}, num_classes={cfg.classes}{norm_layer})"]
    plan = _Plan("torchvision classes", body)
    if norm:
        plan.code.add_import("from torch import nn")
    plan.code.add_import("from functools import partial")
    plan.code.add_import("from torchvision.models.efficientnet import EfficientNet, MBConvConfig")
    return plan


def _vgg_classes(cfg: Any) -> _Plan:  # every VGG design is a torchvision model (see _torchvision_name)
    raise AssertionError(f"VGG design {format_query(cfg)} is not a torchvision model")


CLASS_PLANS: dict[str, Callable[[Any], _Plan | None]] = {
    "resnet": _resnet_classes,
    "densenet": _densenet_classes,
    "mobilenet_v2": _mobilenet_v2_classes,
    "mobilenet_v3": _mobilenet_v3_classes,
    "efficientnet": _efficientnet_classes,
    "vgg": _vgg_classes,
}


class _Recorder:
    """Stands in for a config and remembers which settings a model's constructor reads."""

    def __init__(self, config: ModelConfig) -> None:
        self._config = config
        self._read: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._config, name)
        self._read[name] = value
        return value


def _has_deformable(model: nn.Module) -> bool:
    return any(type(m).__name__ == "DeformableConv2d" for m in model.modules())


def _own_code(roots: list[tuple[str, str]], deformable: bool, rename: dict[str, str] | None = None) -> Standalone:
    stubs = {} if deformable else {_DEFORMABLE: _DEFORMABLE_STUB}
    code = standalone(roots, rename, stubs)
    if not deformable:
        code.add_import("from torch import nn")
    return code


def _annotation(value: Any) -> str:
    """The type of a setting as an annotation: ``tuple[int, ...]`` for a tuple of ints."""
    if isinstance(value, tuple):
        kinds = sorted({type(v).__name__ for v in value}) or ["int"]
        return f"tuple[{' | '.join(kinds)}, ...]"
    return type(value).__name__


def _design_class(name: str, config: ModelConfig, read: dict[str, Any], model_class: str) -> str:
    lines = [
        "@dataclass(frozen=True)",
        f"class {name}:",
        f'    """The settings {model_class} reads (the explorer\'s {type(config).__name__}, resolved)."""',
        "",
    ]
    for field_name in sorted(read):
        lines.append(f"    {field_name}: {_annotation(read[field_name])}")
    return "\n".join(lines)


def _own_classes(config: ModelConfig, model: nn.Module) -> _Plan:
    import torch

    from explorer.families.nets.blocks import composed_calls

    family = config.family
    deformable = _has_deformable(model)
    if family == "blocks":
        return _composed(config, deformable, composed_calls)
    if family == "mobilenet_v1":
        cfg: Any = config
        code = _own_code([("explorer.families.nets.mobilenet", "MobileNetV1")], deformable)
        return _Plan(
            "own classes",
            [f"model = {_call('MobileNetV1', (), {'alpha': cfg.alpha, 'num_classes': cfg.classes})}"],
            code,
        )
    module_name, class_name = OWN_MODELS[family]
    import importlib

    model_type = getattr(importlib.import_module(module_name), class_name)
    recorder = _Recorder(config)
    with torch.device("meta"):
        model_type(recorder)
    design = f"{type(config).__name__.removesuffix('Config')}Design"
    code = _own_code([(module_name, class_name)], deformable, {type(config).__name__: design})
    code.add_import("from dataclasses import dataclass")
    code.definitions.insert(0, _design_class(design, config, recorder._read, class_name))
    settings = [f"    {k}={_literal(v)}," for k, v in sorted(recorder._read.items())]
    body = [f"design = {design}(", *settings, ")", f"model = {class_name}(design)"]
    return _Plan("own classes", body, code)


def _composed(config: ModelConfig, deformable: bool, composed_calls: Callable[..., Any]) -> _Plan:
    from explorer.families.nets.blocks import Call

    cfg: Any = config
    stem, stages = composed_calls(cfg)
    module = "explorer.families.nets.blocks"
    names: set[str] = set()

    def spell(value: Any) -> str:
        if isinstance(value, Call):
            return f"{spell(value.fn)}({', '.join(f'{k}={spell(v)}' for k, v in keywords(value))})"
        if isinstance(value, type) or callable(value):
            import torch.nn

            name: str = value.__name__
            if getattr(torch.nn, name, None) is value:
                return f"nn.{name}"
            names.add(name)
            return name
        return _literal(value)

    def keywords(call: Call) -> list[tuple[str, Any]]:
        """Every argument by its parameter's name (no positional magic numbers)."""
        bound = inspect.signature(call.fn).bind(*call.args, **dict(call.kwargs))
        return list(bound.arguments.items())

    def line(call: Call, indent: str) -> list[str]:
        """``call,`` on one line, or one argument a line when that is too long to read."""
        text = f"{indent}{spell(call)},"
        if len(text) <= 100:
            return [text]
        arguments = [f"{indent}    {k}={spell(v)}," for k, v in keywords(call)]
        return [f"{indent}{spell(call.fn)}(", *arguments, f"{indent}),"]

    body = ["stem = ["] + [text for c in stem for text in line(c, "    ")] + ["]", "stages = ["]
    for index, repeats in enumerate(stages, start=1):
        body.append(f"    [  # stage{index}")
        body += [text for c in repeats for text in line(c, "        ")]
        body.append("    ],")
    body += [
        "]",
        "model = "
        + _call(
            "ComposedNet", (), {"out_channels": cfg.out_channels, "classes": cfg.classes, "dropout": cfg.dropout}
        ).replace("(", "(stem, stages, ", 1),
    ]
    from explorer.export.source import module_imports

    imported = module_imports(module)
    own = sorted(n for n in names if n not in imported)
    code = _own_code([(module, "ComposedNet"), *((module, n) for n in own)], deformable)
    for name in sorted(names - set(own)):
        code.add_import(imported[name])
    code.add_import("from torch import nn")
    return _Plan("own classes", body, code)


# -- the file ---------------------------------------------------------------------------------------

_STDLIB_FIRST = ("__future__",)


def _import_key(line: str) -> tuple[int, str, int, str]:  # isort's order: plain imports first
    module = line.split()[1]
    top = module.split(".")[0]
    group = 0 if top == "__future__" else 3 if top == "torchvision" else 2 if top == "torch" else 1
    return group, "", 0 if line.startswith("import ") else 1, line


def _from_import(module: str, names: list[str]) -> str:
    line = f"from {module} import {', '.join(names)}"
    if len(line) <= 100:
        return line
    return f"from {module} import (\n" + "".join(f"    {name},\n" for name in names) + ")"


def _imports_text(lines: list[str]) -> str:
    """Import lines merged by module (``from x import a, b``) and grouped: stdlib, torch, torchvision."""
    merged: dict[str, list[str]] = {}
    plain: list[str] = []
    for line in lines:
        match = re.fullmatch(r"from (\S+) import (.+)", line)
        if match:
            names = merged.setdefault(match[1], [])
            for name in match[2].split(", "):
                if name not in names:
                    names.append(name)
        elif line not in plain:
            plain.append(line)
    out = plain + [_from_import(m, sorted(ns, key=str.lower)) for m, ns in merged.items()]
    out.sort(key=_import_key)
    text, last_group = [], None
    for line in out:
        group = _import_key(line)[0]
        if last_group is not None and group != last_group:
            text.append("")
        text.append(line)
        last_group = group
    return "\n".join(text)


def _header(config: ModelConfig, how: str) -> str:
    from explorer.analysis.stored import stored_profile
    from explorer.measure.profile import profile

    result = stored_profile(format_query(config)) or profile(config)  # presets' profiles are stored
    side = config.input_resolution
    ways = {
        "torchvision": "torchvision's own model",
        "torchvision classes": "torchvision's classes with explicit arguments",
        "own classes": "the explorer's modules, written out below",
    }
    return "\n".join(
        [
            f'"""{config.title}, exported from CNN Architecture Explorer: build_model() makes it.',
            "",
            f"Query:       {result.query}",
            f"Link:        ?{result.query}  (the explorer's address + this)",
            f"Parameters:  {result.params:,}",
            f"MACs:        {result.macs:,} (multiply-adds at batch 1, {side}x{side} px)",
            f"Input:       (N, {config.in_channels}, {side}, {side})",
            f"Built from:  {ways[how]}",
            "",
            "Needs only torch and torchvision. Module names are the explorer's, so its state dicts load",
            "here with strict=True, and this model's load there.",
            '"""',
        ]
    )


def model_code(config: ModelConfig) -> ModelCode:
    """The standalone file that builds ``config``'s model."""
    from explorer.families import build

    built = build(config, device="meta")
    name = _torchvision_name(config)
    if name is not None:
        plan = _torchvision_call(name, config)
    else:
        plan = CLASS_PLANS.get(config.family, lambda cfg: None)(config) or _own_classes(config, built.module)
    if plan.how != "own classes" or config.family == "mobilenet_v1":
        plan.body += _first_conv_line(built.module, config.in_channels)
    code = plan.code
    code.add_import("from __future__ import annotations")
    code.add_import("import torch")
    code.add_import("from torch import nn")
    body = "\n".join(f"    {line}" if line else "" for line in plan.body)
    build_fn = f'''def build_model(weights: str | None = None) -> nn.Module:
    """The network of the query below; ``weights``: a state dict file to load (strict).

    {format_query(config)}
    """
{body}
    if weights is not None:
        model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True), strict=True)
    return model'''
    main = """if __name__ == "__main__":
    model = build_model().eval()
    print(f"{sum(p.numel() for p in model.parameters()):,} parameters")"""
    head = _header(config, plan.how) + "\n\n" + _imports_text(code.imports)
    parts = [head, *code.definitions, build_fn, main]
    return ModelCode("\n\n\n".join(parts) + "\n", format_query(config), plan.how)
