"""What-if compound scaling: EfficientNet's rule on any family, what it predicts and what it builds.

The rule (Tan & Le, 2019): for a compound coefficient phi, depth x alpha^phi, width x beta^phi and
input side x gamma^phi. MACs grow as depth x width^2 x side^2, so the rule predicts
MACs(phi) = MACs(0) x (alpha * beta^2 * gamma^2)^phi; the paper picks alpha=1.2, beta=1.1, gamma=1.15,
for which alpha * beta^2 * gamma^2 = 1.92 ~ 2, "cost doubles per unit of phi". Parameters do not
depend on the input side, so the rule predicts params(phi) = params(0) x (alpha * beta^2)^phi.

A built network differs from the prediction because of rounding, which this module measures rather
than guesses (:func:`explain`):

* depth: torchvision rounds each stage's block count *up* (``ceil(n * d)``), so a 7-stage B0 scaled by
  1.2 has 23 blocks, not 16 x 1.2 = 19.2; families with fixed layouts (ResNet) take the nearest
  standard depth instead;
* width: ``make_divisible`` rounds every stage's channels to a multiple of 8 (never below 90%), and
  depthwise convolutions and squeeze-excitation grow as width, not width^2;
* resolution: the side is rounded to a pixel, and every stride-2 layer rounds its output side up
  (``ceil(side / 2)``), so at 258 px EfficientNet's last maps are 9x9 where 7 x 1.15 = 8.05.

Each cause is isolated by building the network with only that multiplier applied; the four factors
(depth, width, resolution and their interaction) multiply exactly to measured / predicted.

Everything here takes configs and returns plain data. Every function that needs parameter and MAC
counts takes a ``profiler`` (default :func:`explorer.analysis.profile.profile`) so a page can pass its
cached one. Counting convention: that of :mod:`explorer.analysis.profile` (MACs at batch 1).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from explorer.analysis.profile import Profile, profile
from explorer.config import ConfigError, ModelConfig, parse_query, preset_config
from explorer.families.densenet import DenseNetConfig
from explorer.families.efficientnet import PUBLISHED, EfficientNetConfig
from explorer.families.mobilenet import MobileNetV1Config, MobileNetV2Config, MobileNetV3Config
from explorer.families.plain import PlainConfig
from explorer.families.resnet import IMAGENET_LAYOUTS, ResNetConfig
from explorer.families.vgg import VGGConfig

Profiler = Callable[[ModelConfig], Profile]

#: Measured / predicted MACs for EfficientNet-B0 scaled with the paper's coefficients lies in this
#: band for every phi from 0.5 to 6 (measured: 1.04 to 1.37; largest at small phi, where the
#: per-stage ceil of depth adds the most, e.g. 23 blocks for 19.2 at phi=1).
ROUNDING_BAND = (1.0, 1.4)
#: The resolution the MobileNetV1 paper's Table 7 and width multipliers of its Table 6.
MOBILENET_ALPHAS = (1.0, 0.75, 0.5, 0.25)
MOBILENET_RESOLUTIONS = (224, 192, 160, 128)


# -- the rule ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Multipliers:
    """Depth, width and input-side multipliers (1, 1, 1 leaves a network as it is)."""

    depth: float = 1.0
    width: float = 1.0
    resolution: float = 1.0


@dataclass(frozen=True)
class Rule:
    """Compound-scaling coefficients (the paper's by default)."""

    alpha: float = 1.2
    beta: float = 1.1
    gamma: float = 1.15

    @property
    def flops_ratio(self) -> float:
        """alpha * beta^2 * gamma^2: MACs factor per unit of phi (the paper asks for ~2)."""
        return self.alpha * self.beta**2 * self.gamma**2

    @property
    def params_ratio(self) -> float:
        """alpha * beta^2: parameters factor per unit of phi (the input side adds no parameters)."""
        return self.alpha * self.beta**2

    @property
    def deviation(self) -> float:
        """flops_ratio - 2: how far the coefficients are from the paper's constraint."""
        return self.flops_ratio - 2.0

    def multipliers(self, phi: float) -> Multipliers:
        return Multipliers(self.alpha**phi, self.beta**phi, self.gamma**phi)

    def predicted_macs_factor(self, phi: float) -> float:
        return self.flops_ratio**phi

    def nominal_phi(self, m: Multipliers) -> float:
        """The phi at which this rule predicts the same MACs as multipliers ``m``:
        log(d * w^2 * r^2) / log(alpha * beta^2 * gamma^2). (B3's own 1.4/1.2/300 px is ~1.97.)"""
        if self.flops_ratio <= 1.0:
            return math.nan
        return math.log(m.depth * m.width**2 * m.resolution**2) / math.log(self.flops_ratio)


PAPER_RULE = Rule()


# -- scaling any family ------------------------------------------------------------------------
@dataclass(frozen=True)
class Scaled:
    """A config scaled by multipliers, with what was done and what could not be done.

    achieved: the multipliers the config's knobs actually carry (nearest allowed depth, whole
    channels, whole pixels); rounding inside the builder (ceil per stage, make_divisible) is
    not in here but in :func:`stage_shapes` of the built network.
    """

    config: ModelConfig
    requested: Multipliers
    achieved: Multipliers
    notes: tuple[str, ...] = ()
    #: Names of the multipliers (depth, width, resolution) the family has no knob for.
    unapplied: tuple[str, ...] = ()


def _r(x: float) -> float:
    """Round a multiplier to 6 decimals: readable queries, no float noise at ceil() boundaries."""
    return round(x, 6)


def _clamp(x: float, lo: float, hi: float) -> float:
    return min(hi, max(lo, x))


def _side(base: ModelConfig, m: Multipliers, notes: list[str]) -> tuple[int, float]:
    side0 = base.input_resolution
    want = side0 * m.resolution
    side = int(_clamp(round(want), max(base.min_resolution, 8), 1024))
    if m.resolution != 1.0 and side != round(want):
        notes.append(f"resolution: {want:.0f} px is outside the allowed range; used {side} px")
    return side, side / side0


def _nearest(values: Iterable[int], target: float) -> int:
    """The value nearest to ``target`` in ratio (log distance); the smaller one on a tie."""
    return min(sorted(values), key=lambda v: abs(math.log(v / target)))


def scale_config(base: ModelConfig, m: Multipliers) -> Scaled:
    """``base`` with depth x ``m.depth``, width x ``m.width`` and input side x ``m.resolution``.

    Per family: EfficientNet multiplies ``depth_mult``/``width_mult`` (the builder then rounds per
    stage); ResNet (ImageNet stem) takes the standard depth nearest in ratio with the same block
    type, (CIFAR stem) ``ceil`` of blocks per stage, and multiplies ``width``; DenseNet rounds each
    dense block's layer count up and multiplies the growth rate k; MobileNets multiply ``alpha``
    and have no depth knob; VGG takes the nearest of its four depths and has no width knob; the
    plain stack multiplies ``depth`` and ``width``. Values are clamped to the knobs' ranges (with a
    note). Raises ConfigError if the scaled config is not valid.
    """
    notes: list[str] = []
    unapplied: list[str] = []
    side, achieved_r = _side(base, m, notes)
    changes: dict[str, object] = {}
    if m.resolution != 1.0 or base.resolution is not None:
        changes["resolution"] = side
    achieved_d, achieved_w = m.depth, m.width

    if isinstance(base, EfficientNetConfig):
        changes["depth_mult"] = _r(_clamp(base.depth * m.depth, 0.1, 8.0))
        changes["width_mult"] = _r(_clamp(base.width * m.width, 0.1, 8.0))
        achieved_d = changes["depth_mult"] / base.depth  # type: ignore[operator]
        achieved_w = changes["width_mult"] / base.width  # type: ignore[operator]
        notes.append("depth: each stage's block count x depth_mult, rounded up (ceil) by the builder")
        notes.append("width: each stage's channels x width_mult, rounded to a multiple of 8 (make_divisible)")
    elif isinstance(base, ResNetConfig):
        if base.stem == "imagenet":
            block = base.block_type
            allowed = [d for d, (b, _) in IMAGENET_LAYOUTS.items() if b == block]
            depth = _nearest(allowed, base.depth * m.depth)
            if m.depth != 1.0:
                notes.append(
                    f"depth: {base.depth} x {m.depth:.3g} = {base.depth * m.depth:.1f}; nearest standard "
                    f"{block} ResNet depth is {depth} (allowed: {', '.join(map(str, allowed))})"
                )
        else:
            per = 6 if base.block_type == "basic" else 9
            n0 = (base.depth - 2) // per
            n = max(1, math.ceil(_r(n0 * m.depth)))
            depth = per * n + 2
            if m.depth != 1.0:
                notes.append(f"depth: {n0} blocks per stage x {m.depth:.3g}, rounded up = {n} ({per}n+2 = {depth})")
        changes["depth"] = depth
        achieved_d = depth / base.depth
        width = int(_clamp(round(base.base_width * m.width), 4, 256))
        if width != base.base_width or base.width is not None:
            changes["width"] = width
        achieved_w = width / base.base_width
        if m.width != 1.0:
            notes.append(f"width: first stage {base.base_width} x {m.width:.3g} -> {width} channels (whole channels)")
    elif isinstance(base, DenseNetConfig):
        layout = base.block_layout
        if m.depth != 1.0:
            blocks = tuple(max(1, min(128, math.ceil(_r(n * m.depth)))) for n in layout)
            changes["blocks"] = blocks
            achieved_d = sum(blocks) / sum(layout)
            notes.append(f"depth: layers per dense block {layout} x {m.depth:.3g}, rounded up -> {blocks}")
        k = int(_clamp(round(base.k * m.width), 1, 128))
        changes["k"] = k
        achieved_w = k / base.k
        if m.width != 1.0:
            notes.append(f"width: growth rate k = {base.k} x {m.width:.3g} -> {k}")
    elif isinstance(base, (MobileNetV1Config, MobileNetV2Config, MobileNetV3Config)):
        alpha = _r(_clamp(base.alpha * m.width, 0.1, 3.0))
        changes["alpha"] = alpha
        achieved_w = alpha / base.alpha
        achieved_d = 1.0
        if m.depth != 1.0:
            unapplied.append("depth")
            notes.append(
                f"depth: {base.title} has a fixed layer list (no depth knob); depth x{m.depth:.3g} not applied"
            )
        if m.width != 1.0:
            notes.append(f"width: alpha {base.alpha:g} x {m.width:.3g} = {alpha:g}; channels rounded to multiples of 8")
    elif isinstance(base, VGGConfig):
        depth = _nearest((11, 13, 16, 19), base.depth * m.depth)
        changes["depth"] = depth
        achieved_d = depth / base.depth
        achieved_w = 1.0
        if m.depth != 1.0:
            notes.append(f"depth: {base.depth} x {m.depth:.3g}; nearest VGG configuration is {depth}")
        if m.width != 1.0:
            unapplied.append("width")
            notes.append("width: VGG's channels are fixed by its configuration table (no width knob); not applied")
    elif isinstance(base, PlainConfig):
        depth = int(_clamp(round(base.depth * m.depth), 4, 1000))
        width = int(_clamp(round(base.width * m.width), 1, 256))
        changes.update(depth=depth, width=width)
        achieved_d, achieved_w = depth / base.depth, width / base.width
        if m.depth != 1.0 or m.width != 1.0:
            notes.append(f"depth {base.depth} -> {depth} conv layers, width {base.width} -> {width} (whole numbers)")
    else:  # a family added later: resolution only, and say so
        for name, value in (("depth", m.depth), ("width", m.width)):
            if value != 1.0:
                unapplied.append(name)
                notes.append(f"{name}: no scaling rule for family {base.family}; not applied")
        achieved_d = achieved_w = 1.0
    config = dataclasses.replace(base, **changes)
    achieved = Multipliers(achieved_d, achieved_w, achieved_r)
    return Scaled(config, m, achieved, tuple(notes), tuple(unapplied))


def rule_base(config: ModelConfig) -> ModelConfig:
    """The phi=0 network a scaling curve starts from: for EfficientNet, B0 with the config's
    coefficients (overrides removed); for any other family, the config itself."""
    if isinstance(config, EfficientNetConfig):
        return dataclasses.replace(config, phi=0.0, width_mult=None, depth_mult=None, resolution=None)
    return config


def rule_config(base: ModelConfig, rule: Rule, phi: float) -> Scaled:
    """The network of the rule at ``phi``. EfficientNet uses its own phi/alpha/beta/gamma keys
    (so the query reads ``family=efficientnet&phi=3&beta=1.2``); other families go through
    :func:`scale_config` with ``rule.multipliers(phi)``."""
    if isinstance(base, EfficientNetConfig):
        start = rule_base(base)
        config = dataclasses.replace(start, phi=float(phi), alpha=rule.alpha, beta=rule.beta, gamma=rule.gamma)
        m = rule.multipliers(phi)
        achieved = Multipliers(config.depth, config.width, config.input_resolution / start.input_resolution)
        notes = (
            "depth: each stage's block count x alpha^phi, rounded up (ceil) by torchvision",
            "width: each stage's channels x beta^phi, rounded to a multiple of 8 (make_divisible)",
            "resolution: 224 x gamma^phi, rounded to the nearest pixel",
        )
        return Scaled(config, m, achieved, notes)
    return scale_config(base, rule.multipliers(phi))


# -- structure per stage -------------------------------------------------------------------------
@dataclass(frozen=True)
class StageShape:
    """One stage of a built network: repeated blocks, output channels and output side."""

    name: str
    blocks: int
    channels: int
    side: int
    params: int
    macs: int


def stage_shapes(result: Profile) -> tuple[StageShape, ...]:
    """Per stage (from the builder's structure, in order): blocks = distinct blocks the stage's
    layers belong to; channels and side = the stage's last 4-D output (C, H of N x C x H x W)."""
    order: list[str] = []
    blocks: dict[str, set[str]] = {}
    out: dict[str, tuple[int, int]] = {}
    params: dict[str, int] = {}
    macs: dict[str, int] = {}
    for row in result.layers:
        if row.stage not in blocks:
            order.append(row.stage)
            blocks[row.stage] = set()
            params[row.stage] = macs[row.stage] = 0
        if row.block is not None:
            blocks[row.stage].add(row.block)
        if len(row.output_shape) == 4:
            out[row.stage] = (row.output_shape[1], row.output_shape[2])
        params[row.stage] += row.params
        macs[row.stage] += row.macs
    return tuple(
        StageShape(s, len(blocks[s]), out.get(s, (0, 0))[0], out.get(s, (0, 0))[1], params[s], macs[s]) for s in order
    )


# -- the curve ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class SweepPoint:
    phi: float
    query: str
    requested: Multipliers
    achieved: Multipliers
    resolution: int
    params: int
    macs: int
    #: MACs(phi=0) x (alpha beta^2 gamma^2)^phi: the rule's prediction with these coefficients.
    predicted_macs: float
    #: MACs(phi=0) x 2^phi: the paper's round-number approximation.
    nominal_macs: float
    #: params(phi=0) x (alpha beta^2)^phi.
    predicted_params: float
    stages: tuple[StageShape, ...] = field(repr=False)
    notes: tuple[str, ...] = ()
    unapplied: tuple[str, ...] = ()

    @property
    def macs_vs_rule(self) -> float:
        return self.macs / self.predicted_macs

    @property
    def params_vs_rule(self) -> float:
        return self.params / self.predicted_params


def phi_values(max_phi: float, current: float | None = None, step: float = 1.0) -> tuple[float, ...]:
    """0, step, 2 step, ... up to ``max_phi``, plus ``current`` if it falls between."""
    count = math.floor(max_phi / step + 1e-9)
    values = {round(i * step, 6) for i in range(count + 1)}
    if current is not None and current >= 0:
        values.add(round(current, 6))
    return tuple(sorted(values))


def sweep(base: ModelConfig, rule: Rule, phis: Sequence[float], profiler: Profiler = profile) -> list[SweepPoint]:
    """The rule's network for each phi (which should include 0, the reference of the predictions)."""
    start = profiler(rule_config(base, rule, 0.0).config)
    points = []
    for phi in phis:
        scaled = rule_config(base, rule, phi)
        result = start if phi == 0 else profiler(scaled.config)
        points.append(
            SweepPoint(
                phi=float(phi),
                query=result.query,
                requested=scaled.requested,
                achieved=scaled.achieved,
                resolution=result.resolution,
                params=result.params,
                macs=result.macs,
                predicted_macs=start.macs * rule.predicted_macs_factor(phi),
                nominal_macs=start.macs * 2.0**phi,
                predicted_params=start.params * rule.params_ratio**phi,
                stages=stage_shapes(result),
                notes=scaled.notes,
                unapplied=scaled.unapplied,
            )
        )
    return points


# -- why measured differs from predicted ---------------------------------------------------------
@dataclass(frozen=True)
class Factor:
    """One cause: the MACs factor the rule expects from it alone, and the one measured."""

    name: str
    expected: float
    measured: float
    sentence: str

    @property
    def ratio(self) -> float:
        return self.measured / self.expected


@dataclass(frozen=True)
class StageRounding:
    """One stage, base vs scaled: ideal (base x multiplier) and built blocks, channels and side."""

    name: str
    base_blocks: int
    ideal_blocks: float
    blocks: int
    base_channels: int
    ideal_channels: float
    channels: int
    base_side: int
    ideal_side: float
    side: int


@dataclass(frozen=True)
class Explanation:
    phi: float
    query: str
    macs: int
    predicted_macs: float
    factors: tuple[Factor, ...]
    stages: tuple[StageRounding, ...]
    notes: tuple[str, ...] = ()

    @property
    def ratio(self) -> float:
        """measured / predicted; equals the product of the factors' ratios."""
        return self.macs / self.predicted_macs


def _depth_rule(base: ModelConfig) -> str:
    if isinstance(base, EfficientNetConfig | DenseNetConfig):
        return "each stage rounded up"
    if isinstance(base, ResNetConfig):
        return "nearest standard depth" if base.stem == "imagenet" else "blocks per stage rounded up"
    if isinstance(base, VGGConfig):
        return "nearest VGG configuration"
    return "rounded to whole layers"


def explain(base: ModelConfig, rule: Rule, phi: float, profiler: Profiler = profile) -> Explanation:
    """Split measured / predicted MACs at ``phi`` into depth, width, resolution and interaction.

    Each of the first three is the MACs of the phi=0 network with only that multiplier applied,
    divided by MACs(0) and by what the rule expects from it (alpha^phi, beta^(2 phi), gamma^(2 phi));
    the interaction is what remains, so the four ratios multiply exactly to measured / predicted.
    """
    start_cfg = rule_config(base, rule, 0.0).config
    scaled = rule_config(base, rule, phi)
    m = scaled.requested
    start, full = profiler(start_cfg), profiler(scaled.config)
    alone = {
        "depth": profiler(scale_config(start_cfg, Multipliers(m.depth, 1.0, 1.0)).config),
        "width": profiler(scale_config(start_cfg, Multipliers(1.0, m.width, 1.0)).config),
        "resolution": profiler(scale_config(start_cfg, Multipliers(1.0, 1.0, m.resolution)).config),
    }
    expected = {"depth": m.depth, "width": m.width**2, "resolution": m.resolution**2}
    s0, s1 = stage_shapes(start), stage_shapes(full)
    rows = tuple(
        StageRounding(
            name=a.name,
            base_blocks=a.blocks,
            ideal_blocks=a.blocks * m.depth,
            blocks=b.blocks,
            base_channels=a.channels,
            ideal_channels=a.channels * m.width,
            channels=b.channels,
            base_side=a.side,
            ideal_side=a.side * m.resolution,
            side=b.side,
        )
        for a, b in zip(s0, s1, strict=False)
        if a.name == b.name
    )
    measured = {k: alone[k].macs / start.macs for k in alone}
    body = [r for r in rows if r.base_blocks > 0]
    total0 = sum(r.base_blocks for r in body)
    total1 = sum(r.blocks for r in body)
    unapplied = set(scaled.unapplied)
    sentences = {
        "depth": (
            f"Depth was not applied ({base.title} has no depth knob), so this factor is 1/{m.depth:.3f}."
            if "depth" in unapplied
            else f"{total0} blocks x {m.depth:.3f} = {total0 * m.depth:.1f} ideally; the network has {total1} "
            f"({_depth_rule(base)}). Depth alone multiplies MACs by {measured['depth']:.3f}, the rule expects "
            f"{expected['depth']:.3f} (stem and head do not repeat)."
        ),
        "width": (
            f"Width was not applied ({base.title} has no width knob), so this factor is 1/{m.width**2:.3f}."
            if "width" in unapplied
            else f"Channels x {m.width:.3f}, then rounded to whole channels (multiples of 8 where make_divisible "
            f"applies). Width alone multiplies MACs by {measured['width']:.3f}, the rule expects width^2 = "
            f"{expected['width']:.3f}; rounding moves it either way, and layers whose cost grows only linearly in "
            f"width (depthwise convs and squeeze-excitation where present, the stem's 3 input channels, the "
            f"classifier's fixed outputs) pull it below width^2."
        ),
        "resolution": (
            f"{start.resolution} px x {m.resolution:.3f} = {start.resolution * m.resolution:.1f} -> "
            f"{full.resolution} px; "
            f"every stride-2 layer rounds its output side up, so the last maps are "
            f"{s1[-2].side if len(s1) > 1 else full.resolution} px where {s0[-2].side if len(s0) > 1 else 0} x "
            f"{m.resolution:.3f} = {(s0[-2].side if len(s0) > 1 else 0) * m.resolution:.2f}. Resolution alone "
            f"multiplies MACs by {measured['resolution']:.3f}, the rule expects gamma^(2 phi) = "
            f"{expected['resolution']:.3f}."
        ),
    }
    factors = [Factor(k, expected[k], measured[k], sentences[k]) for k in ("depth", "width", "resolution")]
    predicted = start.macs * rule.predicted_macs_factor(phi)
    separate = math.prod(f.ratio for f in factors)
    interaction = (full.macs / predicted) / separate
    factors.append(
        Factor(
            "interaction",
            1.0,
            interaction,
            "What the three together do beyond their product: extra blocks are also wider and see larger "
            f"maps, and rounding is applied to the combined values ({interaction:.3f}).",
        )
    )
    return Explanation(float(phi), full.query, full.macs, predicted, tuple(factors), rows, scaled.notes)


# -- published EfficientNets and the MobileNetV1 grid ---------------------------------------------
@dataclass(frozen=True)
class PublishedPoint:
    """A torchvision EfficientNet with its own hand-picked multipliers, measured."""

    name: str
    preset: str
    multipliers: Multipliers
    resolution: int
    #: The phi at which the rule predicts this model's MACs from its multipliers (Rule.nominal_phi).
    nominal_phi: float
    params: int
    macs: int
    stages: tuple[StageShape, ...] = field(repr=False)


def published_efficientnets(rule: Rule = PAPER_RULE, profiler: Profiler = profile) -> list[PublishedPoint]:
    """B0-B7 with torchvision's (width, depth, resolution), their nominal phi under ``rule``."""
    points = []
    for name, (width, depth, resolution) in PUBLISHED.items():
        preset = f"efficientnet_{name}"
        result = profiler(preset_config(preset))
        m = Multipliers(depth, width, resolution / 224)
        points.append(
            PublishedPoint(
                name=f"B{name[1:]}",
                preset=preset,
                multipliers=m,
                resolution=resolution,
                nominal_phi=rule.nominal_phi(m),
                params=result.params,
                macs=result.macs,
                stages=stage_shapes(result),
            )
        )
    return points


@dataclass(frozen=True)
class Nearest:
    name: str
    params_ratio: float
    macs_ratio: float


def nearest_published(result: Profile, points: Sequence[PublishedPoint]) -> Nearest:
    """The published point nearest in (log params, log MACs), and this design's ratios to it."""
    best = min(
        points,
        key=lambda p: math.log(result.params / p.params) ** 2 + math.log(result.macs / p.macs) ** 2,
    )
    return Nearest(best.name, result.params / best.params, result.macs / best.macs)


@dataclass(frozen=True)
class GridCell:
    alpha: float
    resolution: int
    query: str
    params: int
    macs: int


def mobilenet_grid(
    alphas: Sequence[float] = MOBILENET_ALPHAS,
    resolutions: Sequence[int] = MOBILENET_RESOLUTIONS,
    profiler: Profiler = profile,
) -> list[GridCell]:
    """MobileNetV1 at every width multiplier x resolution (the paper's Tables 6 and 7 as one grid)."""
    cells = []
    for alpha in alphas:
        for resolution in resolutions:
            config = MobileNetV1Config(alpha=float(alpha), resolution=int(resolution))
            result = profiler(config)
            cells.append(GridCell(float(alpha), int(resolution), result.query, result.params, result.macs))
    return cells


# -- pinned configs (part of the page's URL) -----------------------------------------------------
MAX_PINS = 4
PIN_SEPARATOR = "|"


def format_pins(configs: Sequence[ModelConfig]) -> str:
    """Canonical queries joined by '|', with '&' written ';' (which the config language also reads)."""
    return PIN_SEPARATOR.join(c.query.replace("&", ";") for c in configs)


def parse_pins(text: str | None) -> list[ModelConfig]:
    """The configs of a ``pins`` value; ConfigError names the bad pin. Duplicates are dropped."""
    if not text:
        return []
    configs: list[ModelConfig] = []
    for index, part in enumerate(p for p in text.split(PIN_SEPARATOR) if p.strip()):
        try:
            config = parse_query(part)
        except ConfigError as error:
            raise ConfigError(f"pin {index + 1} ('{part}'): {error}") from None
        if config not in configs:
            configs.append(config)
    if len(configs) > MAX_PINS:
        raise ConfigError(f"at most {MAX_PINS} pinned configs; the link has {len(configs)}")
    return configs


@dataclass(frozen=True)
class StageComparison:
    """One stage across pinned configs: values per config and the difference to the first."""

    stage: str
    queries: tuple[str, ...]
    blocks: tuple[int | None, ...]
    channels: tuple[int | None, ...]
    params: tuple[int | None, ...]
    macs: tuple[int | None, ...]


def compare(configs: Sequence[ModelConfig], profiler: Profiler = profile) -> list[StageComparison]:
    """Per-stage blocks, channels, params and MACs of each config, stages in order of first
    appearance, and a final ``total`` row (None where a config has no such stage)."""
    results = [profiler(c) for c in configs]
    shapes = [{s.name: s for s in stage_shapes(r)} for r in results]
    names: list[str] = []
    for per in shapes:
        names.extend(n for n in per if n not in names)
    queries = tuple(r.query for r in results)
    rows = []
    for name in names:
        got = [per.get(name) for per in shapes]
        rows.append(
            StageComparison(
                name,
                queries,
                tuple(s.blocks if s else None for s in got),
                tuple(s.channels if s else None for s in got),
                tuple(s.params if s else None for s in got),
                tuple(s.macs if s else None for s in got),
            )
        )
    rows.append(
        StageComparison(
            "total",
            queries,
            tuple(sum(s.blocks for s in per.values()) for per in shapes),
            tuple(None for _ in shapes),
            tuple(r.params for r in results),
            tuple(r.macs for r in results),
        )
    )
    return rows
