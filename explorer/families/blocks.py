"""Block composer family: any network written as a stem, a sequence of blocks and a head.

The stem and the body are block lists in the language of :mod:`explorer.families.blockspec`
(``conv32.s2,mb16.e1,mb24.s2``); the head is global average pooling, flatten, dropout and a linear
classifier. Each block is the material's building block, built from torchvision's classes where
they exist (``Conv2dNormActivation``, ``BasicBlock``, ``Bottleneck``, ``_DenseBlock``,
``_Transition``, ``SqueezeExcitation``) and from :class:`DeformableConv2d`.

Structure: the stem is the stage ``stem`` (module ``stem``); body block ``n`` is the stage
``stage<n>`` (module ``stage<n>``), whose repeats are its blocks ``stage<n>.0``, ``stage<n>.1``, ...

The two hybrid presets of the material are defined here, once, in this language.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, ClassVar

from explorer.compound import KnobScaling, Multipliers
from explorer.families.blockspec import Block, canonical, describe_syntax, parse_blocks, scale_blocks
from explorer.knobs import ConfigError, ModelConfig, knob, register_preset

#: The course material's two hybrid models (a ResNet-style and an Inception-style stack, as the lecture
#: draws them), written once, in the composer's language.
HYBRID_RESNET = {"stem": "conv64.k7.s2,max.k3.s2", "blocks": "res64,res128.s2,res256.s2"}
HYBRID_EFFICIENT = {"stem": "conv32.s2.silu", "blocks": "mb16.e1,mb24.s2,mb40.k5.s2"}


def _blocks_knob(default: str, help: str) -> Any:
    return knob(
        default,
        "text",
        help,
        codec=canonical,
        syntax="a block list such as conv32.s2,mb16.e1,mb24.s2 (see blocks)",
    )


SYNTAX_HELP = (
    "the body: blocks separated by ',', each KIND[CHANNELS][.OPTION...] and a stage of its own; every block "
    "takes the previous one's channels; xN repeats a block N times (stride on the first), iN checks its input "
    "channels. Kinds [options, defaults]: " + describe_syntax()
)


@dataclass(frozen=True)
class Trace:
    """One built block: where it sits, its text, input/output channels and map sides."""

    key: str
    index: int
    repeat: int
    block: Block
    in_channels: int
    out_channels: int
    in_side: int
    out_side: int
    stride: int


def _out_side(side: int, kernel: int, stride: int, padding: int) -> int:
    return (side + 2 * padding - kernel) // stride + 1


def _step(key: str, index: int, block: Block, c_in: int, side: int, first: bool) -> tuple[int, int, int]:
    """(output channels, output side, stride) of one repeat of ``block``; ConfigError if impossible."""

    def fail(reason: str) -> ConfigError:
        return ConfigError(f"{key}: block {index} '{block.text}': {reason}")

    stride = int(block["s"] or 1) if first and "s" in dict(block.options) else 1
    kind = block.kind
    if kind in ("max", "avg"):
        k = int(block["k"] or 1)
        p = block["p"] if block["p"] is not None else (k - 1) // 2
        stride = int(block["s"] or 1) if first else 1
        out_side = _out_side(side, k, stride, int(p))
        c_out = c_in
    elif kind == "trans":
        c_out = block.channels[0] if block.channels else max(1, c_in // 2)
        out_side, stride = side // 2, 2
    elif kind == "dense":
        c_out, out_side = c_in + int(block["l"] or 0) * int(block["k"] or 0), side
    elif kind == "incep":
        a, _, c, _, e, f = block.channels
        c_out, out_side = a + c + e + f, side
    else:
        c_out = block.channels[0]
        k = int(block["k"] or 3) if "k" in dict(block.options) else 3
        out_side = _out_side(side, k, stride, k // 2)
    if kind == "conv":
        g = int(block["g"] or 1)
        if c_in % g or c_out % g:
            raise fail(f"g={g} groups must divide the input channels ({c_in}) and the output channels ({c_out})")
    if kind == "bottle":
        if c_out % 4:
            raise fail(f"a bottleneck's output is 4 x its width: {c_out} is not a multiple of 4")
        if int(c_out // 4 * int(block["w"] or 64) / 64) < 1:
            raise fail(f"w={block['w']} leaves the bottleneck with no channels")
    if side < stride:  # a stride s needs s pixels: side / s < 1 is below one pixel
        raise fail(f"stride {stride} shrinks the {side} px map below 1 pixel; use a larger resolution or fewer strides")
    if out_side < 1:
        raise fail(f"its window does not fit the {side} px map; use a larger resolution, fewer strides or padding")
    return c_out, out_side, stride


@lru_cache(maxsize=512)
def trace(stem: str, body: str, in_channels: int, resolution: int) -> tuple[Trace, ...]:
    """Every block repeat of stem and body with its channels and sides, checking that each fits."""
    out: list[Trace] = []
    channels, side = in_channels, resolution
    for key, text in (("stem", stem), ("blocks", body)):
        for index, block in enumerate(parse_blocks(key, text), start=1):
            expected = block["i"]
            if expected is not None and expected != channels:
                source = f"in_channels={channels}" if not out else f"the block before gives {channels}"
                raise ConfigError(
                    f"{key}: block {index} '{block.text}' expects {expected} input channels, but {source}"
                )
            for repeat in range(block.repeats):
                c_out, out_side, stride = _step(key, index, block, channels, side, repeat == 0)
                out.append(Trace(key, index, repeat, block, channels, c_out, side, out_side, stride))
                channels, side = c_out, out_side
    return tuple(out)


@dataclass(frozen=True, kw_only=True)
class BlocksConfig(ModelConfig):
    family: ClassVar[str] = "blocks"
    title: ClassVar[str] = "Block composer"

    stem: str = _blocks_knob(HYBRID_RESNET["stem"], "the stem: blocks in the language of blocks, one stage")
    blocks: str = _blocks_knob(HYBRID_RESNET["blocks"], SYNTAX_HELP)
    dropout: float = knob(0.2, "float", "dropout before the linear classifier", minimum=0.0, maximum=0.9)

    @property
    def min_resolution(self) -> int:  # type: ignore[override]  # per config, not per class
        """The smallest input side every block accepts (the stride of the net, or what pools need)."""
        return _min_resolution(self.stem, self.blocks, self.in_channels)

    def validate(self) -> None:
        trace(self.stem, self.blocks, self.in_channels, self.input_resolution)

    @property
    def layers(self) -> tuple[Trace, ...]:
        return trace(self.stem, self.blocks, self.in_channels, self.input_resolution)

    @property
    def out_channels(self) -> int:
        return self.layers[-1].out_channels

    # -- scaling: EfficientNet's rule on the block list (blockspec.scale_blocks) ----------------------
    def scale_knobs(self, m: Multipliers) -> KnobScaling:
        """Every channel count x width (multiples of 8) in the stem and the blocks; every block's
        repeats (and a dense block's layers) x depth, rounded up; the stem keeps its depth."""
        stem = scale_blocks("stem", self.stem, width=m.width)
        body = scale_blocks("blocks", self.blocks, width=m.width, depth=m.depth)
        before = parse_blocks("stem", self.stem) + parse_blocks("blocks", self.blocks)
        after = parse_blocks("stem", stem) + parse_blocks("blocks", body)
        notes = []
        if m.width != 1.0:
            notes.append("width: every block's channels x width, rounded to a multiple of 8 (make_divisible)")
        if m.depth != 1.0:
            notes.append("depth: every block's repeats (and a dense block's layers) x depth, rounded up")
        return KnobScaling(
            {"stem": stem, "blocks": body},
            _depth_units(after) / _depth_units(before),
            _channel_sum(after) / _channel_sum(before),
            tuple(notes),
        )

    def depth_rounding(self) -> str:
        return "each block's repeats rounded up"


def _depth_units(blocks: tuple[Block, ...] | list[Block]) -> int:
    """Repeated blocks, counting a dense block's layers (what the depth multiplier multiplies)."""
    return sum(b.repeats * (int(b["l"] or 1) if b.kind == "dense" else 1) for b in blocks)


def _channel_sum(blocks: tuple[Block, ...] | list[Block]) -> int:
    return sum(sum(b.channels) for b in blocks) or 1


@lru_cache(maxsize=256)
def _min_resolution(stem: str, body: str, in_channels: int) -> int:
    low, high = 1, 1024
    try:
        trace(stem, body, in_channels, high)
    except ConfigError:
        return high + 1  # nothing fits: validate() says which block and why
    while low < high:  # sides only grow with the input, so bisect
        mid = (low + high) // 2
        try:
            trace(stem, body, in_channels, mid)
            high = mid
        except ConfigError:
            low = mid + 1
    return low


# -- the blocks' modules ----------------------------------------------------------------------


def hybrid_query(definition: dict[str, str]) -> str:
    return "family=blocks&" + "&".join(f"{key}={value}" for key, value in definition.items())


register_preset("hybrid_resnet", hybrid_query(HYBRID_RESNET))
register_preset("hybrid_efficient", hybrid_query(HYBRID_EFFICIENT))
