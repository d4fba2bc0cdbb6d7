"""Property tests: random valid configs of every family, and random invalid input.

Valid configs: the canonical query string parses back to an equal config; a profile's rows sum
exactly to its totals; its parameter count is the meta-built model's. Invalid input of any kind
raises ConfigError (a ValueError) and never another exception.
"""

from __future__ import annotations

import string
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from explorer.config import parse_query
from explorer.families import FAMILIES, PRESETS, build
from explorer.families.blockspec import canonical
from explorer.families.densenet import IMAGENET_BLOCKS
from explorer.families.resnet import IMAGENET_LAYOUTS
from explorer.knobs import ConfigError, ModelConfig, format_query, knobs
from explorer.measure.profile import profile

pytestmark = pytest.mark.usefixtures("single_thread")

#: Examples per family: profiling costs ~0.05 s for a ResNet but ~0.5 s for the mobile nets, whose
#: many small ops are slow to trace on the meta device; keep the file well under two minutes.
EXAMPLES = {"resnet": 40, "vgg": 25, "plain": 40, "mobilenet_v1": 25, "alexnet": 25, "blocks": 60}
SLOW_EXAMPLES = 15
FAST = settings(max_examples=150, deadline=None)


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A value, or None (the knob's derived default)."""
    return st.one_of(st.none(), strategy)


def unit(low: float, high: float) -> st.SearchStrategy[float]:
    return st.floats(low, high, allow_nan=False, allow_infinity=False)


def common(draw: st.DrawFn, min_resolution: int, max_resolution: int) -> dict[str, Any]:
    return {
        "classes": draw(st.integers(1, 20)),
        "in_channels": draw(st.integers(1, 4)),
        "resolution": draw(maybe(st.integers(min_resolution, max_resolution))),
    }


@st.composite
def resnet(draw: st.DrawFn) -> dict[str, Any]:
    stem = draw(st.sampled_from(["imagenet", "cifar"]))
    if stem == "imagenet":
        small_depths = [d for d in IMAGENET_LAYOUTS if d <= 50]
        depth = draw(st.sampled_from(small_depths))
        block_type = IMAGENET_LAYOUTS[depth][0]
        block = draw(st.sampled_from([None, block_type]))
        stages = 4
        values = {"width": draw(maybe(st.integers(4, 32)))} | common(draw, 32, 96)
        if values["resolution"] is None:  # 224 px: keep the net thin so the profile stays quick
            values["width"] = draw(st.integers(4, 16))
    else:
        block_type = draw(st.sampled_from(["basic", "bottleneck"]))
        n = draw(st.integers(1, 4 if block_type == "basic" else 3))
        depth = (6 if block_type == "basic" else 9) * n + 2
        block = block_type if draw(st.booleans()) or block_type == "bottleneck" else None
        stages = 3
        values = {"width": draw(maybe(st.integers(4, 32)))} | common(draw, 8, 48)
    if block_type == "bottleneck":
        values["groups"] = draw(st.sampled_from([1, 2, 4]))
        values["width_per_group"] = draw(st.sampled_from([16, 32, 64, 128]))
    deform = draw(st.sets(st.integers(1, stages), max_size=2))
    values |= {
        "stem": stem,
        "depth": depth,
        "block": block,
        "skip": draw(st.booleans()),
        "preact": draw(st.booleans()),
        "bn": draw(st.booleans()),
        "deform": tuple(sorted(deform)),
        "modulated": bool(deform) and draw(st.booleans()),
    }
    return values


@st.composite
def densenet(draw: st.DrawFn) -> dict[str, Any]:
    stem = draw(st.sampled_from(["imagenet", "cifar"]))
    values: dict[str, Any] = {
        "stem": stem,
        "k": draw(st.integers(1, 12)),
        "bn_size": draw(st.integers(1, 8)),
        "compression": draw(unit(0.1, 1.0)),
    }
    if draw(st.booleans()):
        blocks = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=4)))
        values["blocks"] = blocks
        needed = 2 ** (len(blocks) + (1 if stem == "imagenet" else -1))
        values |= common(draw, max(8, needed), 96)
        if stem == "imagenet":
            values["depth"] = draw(st.sampled_from(list(IMAGENET_BLOCKS)))
    elif stem == "imagenet":
        values["depth"] = draw(st.sampled_from([121, 169]))
        values["k"] = draw(st.integers(1, 8))
        values |= common(draw, 32, 96)
    else:
        values["depth"] = 6 * draw(st.integers(1, 5)) + 4
        values |= common(draw, 8, 48)
    return values


@st.composite
def mobilenet_v1(draw: st.DrawFn) -> dict[str, Any]:
    return {"alpha": draw(unit(0.1, 1.5))} | common(draw, 32, 128)


@st.composite
def mobilenet_v2(draw: st.DrawFn) -> dict[str, Any]:
    return {"alpha": draw(unit(0.1, 1.5))} | common(draw, 32, 128)


@st.composite
def mobilenet_v3(draw: st.DrawFn) -> dict[str, Any]:
    return {"size": draw(st.sampled_from(["large", "small"])), "alpha": draw(unit(0.1, 1.5))} | common(draw, 32, 128)


@st.composite
def efficientnet(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "phi": draw(unit(0.0, 2.0)),
        "alpha": draw(unit(1.0, 2.0)),
        "beta": draw(unit(1.0, 2.0)),
        "gamma": draw(unit(1.0, 1.5)),
        "width_mult": draw(maybe(unit(0.1, 1.2))),
        "depth_mult": draw(maybe(unit(0.1, 1.2))),
    } | common(draw, 32, 128)


@st.composite
def vgg(draw: st.DrawFn) -> dict[str, Any]:
    return {"depth": draw(st.sampled_from([11, 13, 16, 19])), "bn": draw(st.booleans())} | common(draw, 32, 64)


@st.composite
def plain(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "depth": draw(st.integers(4, 30)),
        "width": draw(st.integers(1, 16)),
        "bn": draw(st.booleans()),
        "skip": draw(st.booleans()),
        "init": draw(st.sampled_from(["default", "kaiming", "xavier", "orthogonal"])),
        "deform": (deform := draw(st.booleans())),
        "modulated": deform and draw(st.booleans()),
    } | common(draw, 8, 48)


@st.composite
def alexnet(draw: st.DrawFn) -> dict[str, Any]:
    return {"width": draw(st.sampled_from([0.25, 0.5])), "dropout": draw(unit(0.0, 0.9))} | common(draw, 63, 96)


@st.composite
def googlenet(draw: st.DrawFn) -> dict[str, Any]:
    values = {
        "aux": draw(st.booleans()),
        "width": draw(st.sampled_from([0.25, 0.5])),
        "dropout": draw(unit(0.0, 0.9)),
        "dropout_aux": draw(unit(0.0, 0.9)),
    } | common(draw, 15, 96)
    return values | {"transform_input": draw(maybe(st.just(False) if values["in_channels"] != 3 else st.booleans()))}


@st.composite
def inception_v3(draw: st.DrawFn) -> dict[str, Any]:
    values = {"aux": draw(st.booleans()), "width": 0.25, "dropout": draw(unit(0.0, 0.9))} | common(draw, 75, 128)
    if values["aux"]:
        values["resolution"] = None  # 299 px, what the auxiliary classifier needs
    return values | {"transform_input": draw(maybe(st.just(False) if values["in_channels"] != 3 else st.booleans()))}


def _options(draw: st.DrawFn, options: list[str]) -> list[str]:
    """Some of ``options``, in any order (the canonical form sorts them)."""
    chosen = draw(st.permutations(options))
    return list(chosen[: draw(st.integers(0, len(chosen)))])


@st.composite
def block_text(draw: st.DrawFn) -> str:
    """One block of the composer's language, valid on its own, written in a random (not canonical) way."""
    width = st.integers(1, 12)
    stride = f"s{draw(st.sampled_from([1, 1, 1, 2]))}"
    kernel = f"k{draw(st.sampled_from([1, 3, 5]))}"
    kind = draw(
        st.sampled_from(["conv", "res", "bottle", "dense", "trans", "dw", "mb", "deform", "incep", "max", "avg"])
    )
    if kind == "conv":
        words = [
            kernel,
            stride,
            draw(st.sampled_from(["relu", "silu", "linear"])),
            draw(st.sampled_from(["bn", "nobn"])),
        ]
        text = f"conv{draw(width)}"
    elif kind == "res":
        text, words = f"res{draw(width)}", [stride]
    elif kind == "bottle":
        text, words = f"bottle{4 * draw(width)}", [stride, f"g{draw(st.sampled_from([1, 2]))}", "w64"]
    elif kind == "dense":
        text, words = (
            "dense",
            [f"k{draw(st.integers(1, 6))}", f"l{draw(st.integers(1, 3))}", f"b{draw(st.integers(1, 4))}"],
        )
    elif kind == "trans":
        text, words = "trans" + draw(st.sampled_from(["", str(draw(width))])), []
    elif kind in ("dw", "deform"):
        text, words = (
            f"{kind}{draw(width)}",
            [kernel, stride] + (["mod"] if kind == "deform" and draw(st.booleans()) else []),
        )
    elif kind == "mb":
        words = [f"e{draw(st.integers(1, 6))}", kernel, stride, f"se{draw(st.sampled_from([0, 25, 50]))}"]
        text = f"mb{draw(width)}"
    elif kind == "incep":
        text, words = "incep" + "-".join(str(draw(st.integers(1, 6))) for _ in range(6)), []
    else:
        text, words = kind, [f"k{draw(st.integers(1, 3))}", f"s{draw(st.integers(1, 2))}"]
    if draw(st.integers(0, 3)) == 0:
        words.append(f"x{draw(st.integers(1, 3))}")
    text = ".".join([text, *_options(draw, words)])
    return text.upper() if draw(st.integers(0, 4)) == 0 else text


@st.composite
def blocks(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "stem": ",".join(draw(st.lists(block_text(), min_size=1, max_size=2))),
        "blocks": ",".join(draw(st.lists(block_text(), min_size=1, max_size=4))),
        "dropout": draw(unit(0.0, 0.9)),
    } | common(draw, 16, 64)


STRATEGIES = {
    "resnet": resnet(),
    "densenet": densenet(),
    "mobilenet_v1": mobilenet_v1(),
    "mobilenet_v2": mobilenet_v2(),
    "mobilenet_v3": mobilenet_v3(),
    "efficientnet": efficientnet(),
    "vgg": vgg(),
    "plain": plain(),
    "alexnet": alexnet(),
    "googlenet": googlenet(),
    "inception_v3": inception_v3(),
    "blocks": blocks(),
}


def make(family: str, values: dict[str, Any]) -> ModelConfig:
    try:
        return FAMILIES[family](**values)
    except ConfigError:
        assume(False)  # a rare cross-key clash the strategy let through (e.g. a too-narrow bottleneck)
        raise


def test_strategies_cover_every_family() -> None:
    assert set(STRATEGIES) == set(FAMILIES)


@pytest.mark.slow
@pytest.mark.parametrize("family", list(FAMILIES))
def test_valid_configs(family: str) -> None:
    @settings(
        max_examples=EXAMPLES.get(family, SLOW_EXAMPLES), deadline=None, suppress_health_check=[HealthCheck.too_slow]
    )
    @given(values=STRATEGIES[family])
    def check(values: dict[str, Any]) -> None:
        config = make(family, values)
        query = format_query(config)
        assert parse_query(query) == config
        assert format_query(parse_query(query)) == query

        result = profile(config)
        assert result.query == query
        assert result.params == sum(row.params for row in result.layers)
        assert result.macs == sum(row.macs for row in result.layers)
        assert result.activation_bytes == sum(row.activation_bytes for row in result.layers)
        assert all(row.params >= 0 and row.macs >= 0 for row in result.layers)
        model = build(config, device="meta").module
        assert result.params == sum(p.numel() for p in model.parameters())
        assert result.resolution == config.input_resolution
        for key in ("stage", "type"):
            groups = result.grouped(key)
            assert sum(g["params"] for g in groups) == result.params
            assert sum(g["macs"] for g in groups) == result.macs

    check()


@given(name=st.sampled_from(sorted(PRESETS)), classes=st.integers(1, 100000))
@FAST
def test_preset_overrides_round_trip(name: str, classes: int) -> None:
    config = parse_query(f"preset={name}&classes={classes}")
    assert config.classes == classes
    assert parse_query(format_query(config)) == config


@given(texts=st.lists(block_text(), min_size=1, max_size=6))
@FAST
def test_block_strings_round_trip(texts: list[str]) -> None:
    """Any valid block list has one canonical form: lower case, options in a fixed order, defaults
    left out; it is a fixed point, URL-safe, and configs written either way are equal."""
    text = ",".join(texts)
    form = canonical("blocks", text)
    assert canonical("blocks", form) == form
    assert form == form.lower() and set(form) <= set(string.ascii_lowercase + string.digits + ",.-")
    assert form.count(",") == text.count(",")
    try:
        config = parse_query(f"family=blocks&stem=conv8&blocks={text}&resolution=64")
    except ConfigError as error:  # a valid list that does not fit the map (too many strides)
        assert "pixel" in str(error) or "window" in str(error)
        return
    assert config.blocks == form
    query = format_query(config)
    assert "%" not in query  # nothing to escape in a URL
    shouted = parse_query(f"family=blocks&stem=CONV8&blocks={text.upper()}&resolution=64")
    assert parse_query(query) == config == shouted


# -- invalid input ---------------------------------------------------------------------------


def numeric_knobs() -> list[tuple[str, str, float, float, str]]:
    out = []
    for family, config_type in FAMILIES.items():
        for key, spec in knobs(config_type).items():
            if spec.kind in ("int", "float") and not spec.choices:
                out.append((family, key, spec.minimum, spec.maximum, spec.kind))
    return out


@given(data=st.data(), case=st.sampled_from(numeric_knobs()))
@FAST
def test_out_of_range_numbers(data: st.DataObject, case: tuple[str, str, float, float, str]) -> None:
    family, key, low, high, kind = case
    if kind == "int":
        value: float = data.draw(st.one_of(st.integers(max_value=int(low) - 1), st.integers(min_value=int(high) + 1)))
    else:
        value = data.draw(
            st.one_of(
                st.floats(max_value=low, exclude_max=True, allow_nan=False, allow_infinity=False),
                st.floats(min_value=high, exclude_min=True, allow_nan=False, allow_infinity=False),
            )
        )
    with pytest.raises(ConfigError) as info:
        parse_query(f"family={family}&{key}={quote(str(value))}")  # quoted: '+' in a query is a space
    assert key in str(info.value)
    assert "out of range" in str(info.value)


IDENTIFIER = st.text(string.ascii_lowercase + "_", min_size=1, max_size=12)


@given(family=st.sampled_from(list(FAMILIES)), key=IDENTIFIER)
@FAST
def test_unknown_keys(family: str, key: str) -> None:
    assume(key not in knobs(FAMILIES[family]) and key not in ("family", "preset"))
    with pytest.raises(ConfigError) as info:
        parse_query(f"family={family}&{key}=1")
    assert f"unknown key '{key}'" in str(info.value)


def parses_or_config_error(query: Any) -> None:
    try:
        config = parse_query(query)
    except ConfigError as error:
        assert str(error)
        assert isinstance(error, ValueError)
    else:
        assert parse_query(format_query(config)) == config


@given(text=st.text(max_size=60))
@FAST
def test_garbage_text(text: str) -> None:
    parses_or_config_error(text)


QUERY_CHARS = st.sampled_from([*"=&;,-.%+ 0123456789abcdefnorstu_?", "family=", "preset=", "resnet", "\x00", "é"])


@given(parts=st.lists(QUERY_CHARS, max_size=30))
@FAST
def test_query_shaped_garbage(parts: list[str]) -> None:
    parses_or_config_error("".join(parts))


@given(data=st.data(), family=st.sampled_from(list(FAMILIES)))
@FAST
def test_garbage_values_for_real_keys(data: st.DataObject, family: str) -> None:
    keys = sorted(knobs(FAMILIES[family]))
    chosen = data.draw(st.lists(st.sampled_from(keys), min_size=1, max_size=3, unique=True))
    values = {
        key: data.draw(
            st.one_of(
                st.text(max_size=8), st.integers(-5, 2000).map(str), st.sampled_from(["on", "off", "none", "1,2"])
            )
        )
        for key in chosen
    }
    parses_or_config_error({"family": family, **values})
    parses_or_config_error("&".join([f"family={family}", *(f"{k}={v}" for k, v in values.items())]))


PYTHON_VALUES = st.one_of(
    st.integers(-10, 5000),
    st.integers(1, 300).map(float),  # whole floats: accepted for int keys, stored as ints
    st.floats(),
    st.sampled_from([float("nan"), float("inf"), 0.5, 1.0, 2.0]),
    st.lists(st.integers(-1, 6), max_size=4),
    st.lists(st.integers(1, 4), max_size=4).map(tuple),
    st.text(max_size=5),
    st.booleans(),
    st.none(),
)


@given(data=st.data(), family=st.sampled_from(list(FAMILIES)))
@FAST
def test_python_callers_get_config_errors_too(data: st.DataObject, family: str) -> None:
    """Configs built from Python values (as pages do) either fail with ConfigError or round-trip."""
    config_type = FAMILIES[family]
    keys = data.draw(st.lists(st.sampled_from(sorted(knobs(config_type))), min_size=1, max_size=3, unique=True))
    values = {key: data.draw(PYTHON_VALUES) for key in keys}
    try:
        config = config_type(**values)
    except ConfigError:
        return
    assert parse_query(format_query(config)) == config
    hash(config)
