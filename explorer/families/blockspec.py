"""The block composer's language: a network's stem and body written as a short, URL-safe string.

    blocks := block ("," block)*
    block  := KIND [CHANNELS] ("." OPTION)*
    CHANNELS := INT ("-" INT)*          one output width; six for an Inception module
    OPTION := NAME INT | FLAG           e.g. k5, s2, e6, x3 / silu, nobn, mod

Example, the ResNet-flavoured hybrid: stem ``conv64.k7.s2,max.k3.s2``, body ``res64,res128.s2,res256.s2``.
Every block takes the previous block's output channels (the image's ``in_channels`` for the first);
``x<N>`` repeats a block N times, the first repeat with the block's stride, the rest with stride 1.
``i<N>`` states the input channels a block expects (checked, never inferred). Only letters, digits
and ``, . -`` are used, so the string needs no escaping in a URL. :func:`canonical` writes a block
list in one canonical form (lower case, options in a fixed order, defaults left out).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import lru_cache

from explorer.families.rounding import make_divisible
from explorer.knobs import ConfigError

__all__ = ["KINDS", "Block", "Kind", "canonical", "describe_syntax", "parse_blocks", "scale_blocks"]

#: Options every kind takes: repeats and the (checked) input channels.
COMMON_OPTIONS = {"x": (1, 1, 64), "i": (None, 1, 4096)}
MAX_CHANNELS = 4096
#: Most blocks (after repeats) one key may hold, so that a typo cannot ask for a million layers.
MAX_BLOCKS = 512


@dataclass(frozen=True)
class Kind:
    """What one block kind accepts: how many channel numbers, numeric options (default, min, max;
    a default of None means "not given") and flag groups (allowed words, the first the default)."""

    name: str
    help: str
    channels: tuple[int, ...]  # allowed counts of channel numbers, e.g. (1,), (0, 1), (6,)
    options: dict[str, tuple[int | None, int, int]] = field(default_factory=dict)
    flags: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: Options whose value must be odd (kernels, so that padding k//2 keeps the map size).
    odd: tuple[str, ...] = ()

    def all_options(self) -> dict[str, tuple[int | None, int, int]]:
        return self.options | COMMON_OPTIONS


KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind(
            "conv",
            "conv C: k x k conv (padding k//2), BN, activation; g groups; nobn: no BN (the conv gets a bias)",
            (1,),
            {"k": (3, 1, 11), "s": (1, 1, 4), "g": (1, 1, MAX_CHANNELS)},
            {"act": ("relu", "silu", "linear"), "bn": ("bn", "nobn")},
            odd=("k",),
        ),
        Kind(
            "res",
            "res C: basic residual block (two 3x3 convs); 1x1 conv + BN projection when stride or channels change",
            (1,),
            {"s": (1, 1, 4)},
        ),
        Kind(
            "bottle",
            "bottle C: bottleneck (1x1, 3x3, 1x1 to C = 4 x width) with projection shortcut; "
            "g groups, w width per group x 64/64 (ResNeXt: g32.w4)",
            (1,),
            {"s": (1, 1, 4), "g": (1, 1, 64), "w": (64, 1, 512)},
        ),
        Kind(
            "dense",
            "dense: dense block of l layers, each BN-ReLU-1x1 conv to b x k, BN-ReLU-3x3 conv adding k channels",
            (0,),
            {"k": (32, 1, 128), "l": (6, 1, 64), "b": (4, 1, 8)},
        ),
        Kind("trans", "trans [C]: transition: BN-ReLU-1x1 conv to C (default half), 2x2 average pool", (0, 1)),
        Kind(
            "dw",
            "dw C: depthwise separable: k x k depthwise conv-BN-ReLU, 1x1 conv-BN-ReLU to C",
            (1,),
            {"k": (3, 1, 11), "s": (1, 1, 4)},
            odd=("k",),
        ),
        Kind(
            "mb",
            "mb C: MBConv: [1x1 expansion x e + BN,] SiLU, k x k depthwise-BN-SiLU, squeeze-excitation to se% "
            "of the input channels (se0: none), 1x1 projection + BN; residual when s1 and channels equal",
            (1,),
            {"e": (6, 1, 12), "k": (3, 1, 11), "s": (1, 1, 4), "se": (25, 0, 100)},
            odd=("k",),
        ),
        Kind(
            "deform",
            "deform C: deformable k x k conv (own offset conv), BN, ReLU; mod: DCNv2 modulation mask",
            (1,),
            {"k": (3, 1, 11), "s": (1, 1, 4)},
            {"mask": ("nomod", "mod")},
            odd=("k",),
        ),
        Kind(
            "incep",
            "incep A-B-C-D-E-F: Inception module, four parallel branches (1x1 to A; 1x1 to B, 3x3 to C; "
            "1x1 to D, 5x5 to E; 3x3 max-pool, 1x1 to F) concatenated: A+C+E+F channels",
            (6,),
        ),
        Kind(
            "max",
            "max: k x k max-pool, stride s, padding p (default (k-1)//2)",
            (0,),
            {"k": (3, 1, 11), "s": (2, 1, 4), "p": (None, 0, 5)},
        ),
        Kind(
            "avg",
            "avg: k x k average pool, stride s, padding p (default (k-1)//2)",
            (0,),
            {"k": (2, 1, 11), "s": (2, 1, 4), "p": (None, 0, 5)},
        ),
    )
}

_BLOCK = re.compile(r"([a-z]+)((?:[0-9]{1,5})(?:-[0-9]{1,5})*)?")
_OPTION = re.compile(r"([a-z]+)([0-9]{1,5})?")


@dataclass(frozen=True)
class Block:
    """One parsed block: its kind, channel numbers and every option (defaults filled in)."""

    kind: str
    channels: tuple[int, ...]
    options: tuple[tuple[str, int | None], ...]
    flags: tuple[tuple[str, str], ...]
    #: The block as written in canonical form (its part of the string).
    text: str

    def __getitem__(self, name: str) -> int | None:
        return dict(self.options)[name]

    def flag(self, group: str) -> str:
        return dict(self.flags)[group]

    @property
    def repeats(self) -> int:
        return int(self["x"] or 1)


def _fail(key: str, index: int, token: str, reason: str) -> ConfigError:
    return ConfigError(f"{key}: block {index} '{token}': {reason}")


def _parse_block(key: str, index: int, token: str) -> Block:
    parts = token.split(".")
    head = _BLOCK.fullmatch(parts[0])
    if head is None:
        raise _fail(
            key,
            index,
            token,
            "write a kind and its channels, e.g. conv32, mb24.e6.s2 (kinds: " + ", ".join(KINDS) + ")",
        )
    name, numbers = head.group(1), head.group(2)
    if name not in KINDS:
        raise _fail(key, index, token, f"unknown block kind '{name}'; allowed: " + ", ".join(KINDS))
    kind = KINDS[name]
    channels = tuple(int(n) for n in numbers.split("-")) if numbers else ()
    if len(channels) not in kind.channels:
        wanted = " or ".join(
            "no channel number" if n == 0 else f"{n} channel number{'s' if n > 1 else ''}" for n in kind.channels
        )
        raise _fail(key, index, token, f"{name} takes {wanted} (see: {kind.help})")
    for c in channels:
        if not 1 <= c <= MAX_CHANNELS:
            raise _fail(key, index, token, f"channels must be from 1 to {MAX_CHANNELS}, not {c}")
    allowed = kind.all_options()
    values: dict[str, int | None] = {k: spec[0] for k, spec in allowed.items()}
    flags = {group: words[0] for group, words in kind.flags.items()}
    flag_of = {word: group for group, words in kind.flags.items() for word in words}
    seen: set[str] = set()
    groups_seen: set[str] = set()
    for part in parts[1:]:
        match = _OPTION.fullmatch(part)
        if match is None:
            raise _fail(
                key, index, token, f"'{part}' is not an option (a name and a number such as s2, or a word such as silu)"
            )
        option, number = match.group(1), match.group(2)
        if option in seen:
            raise _fail(key, index, token, f"option '{option}' is given twice")
        seen.add(option)
        if number is None and option in flag_of:
            if flag_of[option] in groups_seen:
                raise _fail(key, index, token, f"'{option}' contradicts another {flag_of[option]} option")
            groups_seen.add(flag_of[option])
            flags[flag_of[option]] = option
            continue
        if option not in allowed or number is None:
            words = [f"{o}N" for o in allowed] + list(flag_of)
            raise _fail(key, index, token, f"unknown option '{part}' for {name}; allowed: " + ", ".join(words))
        _, low, high = allowed[option]
        value = int(number)
        if not low <= value <= high:
            raise _fail(key, index, token, f"{option}={value} is out of range; allowed: {low} to {high}")
        if option in kind.odd and value % 2 == 0:
            raise _fail(key, index, token, f"kernel {option}={value} must be odd (padding k//2 keeps the size)")
        values[option] = value
    if name in ("max", "avg") and values["p"] is not None and 2 * values["p"] > int(values["k"] or 1):
        raise _fail(key, index, token, f"padding p={values['p']} must be at most half the kernel k={values['k']}")
    # Canonical text: kind, channels, then non-default options in the kind's order, then flags.
    text = name + "-".join(map(str, channels))
    for option, (default, _, _) in allowed.items():
        if values[option] != default:
            text += f".{option}{values[option]}"
    for group, choices in kind.flags.items():
        if flags[group] != choices[0]:
            text += f".{flags[group]}"
    return Block(name, channels, tuple(values.items()), tuple(flags.items()), text)


@lru_cache(maxsize=1024)
def parse_blocks(key: str, text: str) -> tuple[Block, ...]:
    """Parse a block list; ConfigError names ``key``, the block's position and what is wrong."""
    if not isinstance(text, str):
        raise ConfigError(f"'{key}' must be a block list such as conv32.s2,mb16.e1")
    cleaned = text.strip().lower()
    if not cleaned:
        raise ConfigError(f"'{key}' needs at least one block, e.g. conv32.s2")
    if not cleaned.isascii():
        raise ConfigError(f"'{key}': only letters, digits and , . - are allowed")
    blocks = tuple(_parse_block(key, i, token.strip()) for i, token in enumerate(cleaned.split(","), start=1))
    total = sum(b.repeats for b in blocks)
    if total > MAX_BLOCKS:
        raise ConfigError(f"'{key}' holds {total} blocks after repeats; at most {MAX_BLOCKS}")
    return blocks


def canonical(key: str, text: str) -> str:
    """The block list ``text`` in canonical form (ConfigError if it is not a valid block list)."""
    return ",".join(b.text for b in parse_blocks(key, text))


def describe_syntax() -> str:
    """One line per kind, for help texts: ``KIND: what it is`` with its options and defaults."""
    lines = []
    for kind in KINDS.values():
        opts = [f"{o}{d}" if d is not None else f"{o}N" for o, (d, _, _) in kind.options.items()]
        flags = ["/".join(words) for words in kind.flags.values()]
        lines.append(kind.help + (f" [{', '.join(opts + flags)}]" if opts or flags else ""))
    return " · ".join(lines)


def scale_blocks(key: str, text: str, width: float = 1.0, depth: float = 1.0) -> str:
    """EfficientNet's rule applied to a block list: every channel count (and a dense block's growth
    rate) x ``width``, rounded to a multiple of 8 as torchvision rounds EfficientNet's
    (``make_divisible``); every block's repeats (and a dense block's layers) x ``depth``, rounded up.
    ``i<N>`` checks are dropped. Returns the canonical text of the scaled list (ConfigError if
    ``text`` is not a block list). The image input is not a block: the first block still reads it."""

    def channels(c: int) -> int:
        return min(MAX_CHANNELS, make_divisible(c * width, 8)) if width != 1.0 else c

    def count(n: int, limit: int) -> int:
        return max(1, min(limit, math.ceil(round(n * depth, 6)))) if depth != 1.0 else n

    out = []
    for block in parse_blocks(key, text):
        options = dict(block.options)
        options["i"] = None  # the checked input channels belong to the unscaled design
        options["x"] = count(block.repeats, COMMON_OPTIONS["x"][2])
        if block.kind == "dense":
            options["k"] = min(KINDS["dense"].options["k"][2], channels(int(options["k"] or 1)))
            options["l"] = count(int(options["l"] or 1), KINDS["dense"].options["l"][2])
        parts = [block.kind + "-".join(str(channels(c)) for c in block.channels)]
        parts += [f"{name}{value}" for name, value in options.items() if value is not None]
        parts += [word for _, word in block.flags]
        out.append(".".join(parts))
    return canonical(key, ",".join(out))
