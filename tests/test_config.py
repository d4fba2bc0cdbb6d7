"""The query-string language: parsing, canonical formatting, presets and error messages."""

from __future__ import annotations

import dataclasses

import pytest

from explorer.config import default_config, matching_preset, parse_query
from explorer.families import FAMILIES, PRESETS
from explorer.families.densenet import DenseNetConfig
from explorer.families.resnet import ResNetConfig
from explorer.knobs import ConfigError, format_query, knobs, query_to_dict


def error_of(query: str) -> str:
    with pytest.raises(ConfigError) as info:
        parse_query(query)
    return str(info.value)


# -- parsing and formatting -----------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "preset=resnet50",
        "preset=resnet50&deform=4",
        "family=resnet&skip=off&bn=off",
        "preset=preact_resnet164&depth=29&classes=1000",
        "family=resnet&depth=26&width=32&preact=on&bn=off&deform=2,3",
        "preset=densenet_bc_100&compression=0.75",
        "family=densenet&blocks=2-3-4&k=8",
        "family=mobilenet_v2&alpha=0.35&resolution=96",
        "preset=mobilenet_v3_small&in_channels=1",
        "family=efficientnet&phi=2.5&gamma=1.2",
        "preset=vgg11_bn&classes=10",
        "family=plain&depth=31&width=8&skip=on&init=orthogonal&deform=on",
    ],
)
def test_canonical_queries_round_trip(query: str) -> None:
    config = parse_query(query)
    assert format_query(config) == query
    assert parse_query(format_query(config)) == config


@pytest.mark.parametrize(
    ("query", "canonical"),
    [
        ("family=resnet&depth=50", "preset=resnet50"),
        ("family=resnet", "preset=resnet18"),
        ("?family=resnet&depth=50&deform=4", "preset=resnet50&deform=4"),
        ("family=resnet&deform=4,3", "family=resnet&deform=3,4"),
        ("family=resnet&stem=cifar&depth=20&classes=10", "preset=resnet20"),
        ("family=densenet&depth=161&k=48", "preset=densenet161"),
        ("family=mobilenet_v3&size=small", "preset=mobilenet_v3_small"),
        ("family=efficientnet&width_mult=1.2&depth_mult=1.4&resolution=300", "preset=efficientnet_b3"),
        ("family=vgg&bn=yes&depth=19", "preset=vgg19_bn"),
        ("preset=resnet50&depth=18", "preset=resnet18"),
        ("family=plain&depth=10&init=xavier", "family=plain&depth=10&init=xavier"),
        ("family=plain&depth=20", "family=plain"),
        ("preset=resnet50;classes=10", "preset=resnet50&classes=10"),
        ("family=efficientnet&phi=1.0", "family=efficientnet&phi=1"),
        # Exactly a preset: the preset's name; otherwise the shorter form, family=... on a tie.
        ("preset=resnet18&skip=off", "family=resnet&skip=off"),
        ("family=resnet&deform=none", "preset=resnet18"),
        # Keys come out in declaration order, whatever order they went in.
        (
            "family=resnet&stem=cifar&preact=on&depth=29&block=bottleneck",
            "preset=preact_resnet164&depth=29&classes=1000",
        ),
    ],
)
def test_canonical_form(query: str, canonical: str) -> None:
    assert format_query(parse_query(query)) == canonical


def test_mapping_input_equals_string_input() -> None:
    assert parse_query({"family": "resnet", "depth": "50"}) == parse_query("family=resnet&depth=50")


def test_values_are_typed() -> None:
    config = parse_query("family=resnet&depth=50&skip=off&deform=4,2&resolution=160")
    assert isinstance(config, ResNetConfig)
    assert (config.depth, config.skip, config.deform, config.resolution) == (50, False, (2, 4), 160)
    assert config.input_resolution == 160
    densenet = parse_query("family=densenet&blocks=6-12-24-16&compression=0.5")
    assert densenet.blocks == (6, 12, 24, 16)
    assert densenet.compression == 0.5


def test_onoff_spellings() -> None:
    for word in ("on", "true", "1", "yes", "ON"):
        assert parse_query(f"family=resnet&skip={word}").skip is True
    for word in ("off", "false", "0", "no"):
        assert parse_query(f"family=resnet&skip={word}").skip is False


def test_derived_resolution() -> None:
    assert parse_query("family=resnet").input_resolution == 224
    assert parse_query("family=resnet&stem=cifar&depth=20").input_resolution == 32
    assert parse_query("family=densenet&stem=cifar&depth=40").input_resolution == 32
    assert parse_query("family=plain").input_resolution == 32
    # EfficientNet: 224 x gamma^phi, rounded.
    assert parse_query("family=efficientnet&phi=2").input_resolution == round(224 * 1.15**2) == 296
    assert parse_query("preset=efficientnet_b7").input_resolution == 600


def test_preset_override() -> None:
    config = parse_query("preset=resnet50&deform=4")
    assert config == dataclasses.replace(parse_query("preset=resnet50"), deform=(4,))
    assert config.depth == 50 and config.deform == (4,)
    assert matching_preset(config) is None
    assert matching_preset(parse_query("preset=resnet50")) == "resnet50"


def test_preset_with_its_own_family_is_fine() -> None:
    assert parse_query("preset=resnet50&family=resnet") == parse_query("preset=resnet50")


def test_every_preset_parses_and_formats_to_itself() -> None:
    for name in PRESETS:
        config = parse_query(f"preset={name}")
        assert format_query(config) == f"preset={name}", name
        assert matching_preset(config) == name


def test_every_family_default() -> None:
    assert list(FAMILIES) == [
        "resnet",
        "densenet",
        "mobilenet_v1",
        "mobilenet_v2",
        "mobilenet_v3",
        "efficientnet",
        "vgg",
        "alexnet",
        "googlenet",
        "inception_v3",
        "plain",
        "blocks",
    ]
    for family, config_type in FAMILIES.items():
        config = default_config(family)
        assert type(config) is config_type
        assert parse_query(f"family={family}") == config
        assert {"classes", "resolution", "in_channels"} <= set(knobs(config_type))


def test_configs_are_frozen_and_hashable() -> None:
    config = parse_query("preset=resnet50")
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.depth = 18  # type: ignore[misc]
    assert hash(config) == hash(parse_query("family=resnet&depth=50"))
    assert len({config, parse_query("preset=resnet50"), parse_query("preset=resnet18")}) == 2


def test_python_lists_become_tuples() -> None:
    config = DenseNetConfig(blocks=[2, 2, 2], stem="cifar")  # type: ignore[arg-type]
    assert config.blocks == (2, 2, 2)
    hash(config)


def test_python_values_are_normalised_like_query_values() -> None:
    # Regressions: whole floats used to be stored as floats ("width=32.0" did not parse back and the
    # builder crashed), and unsorted stage lists formatted to a query that parsed to another config.
    config = ResNetConfig(width=32.0, deform=[4, 2, 4])  # type: ignore[arg-type]
    assert config.width == 32 and type(config.width) is int
    assert config.deform == (2, 4)
    assert format_query(config) == "family=resnet&width=32&deform=2,4"
    assert parse_query(format_query(config)) == config
    assert DenseNetConfig(blocks=(2.0, 3.0), stem="cifar").blocks == (2, 3)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_python_floats_are_rejected(value: float) -> None:
    # Regression: NaN passed every range comparison and built an unformattable config.
    from explorer.families.efficientnet import EfficientNetConfig

    for key in ("phi", "alpha", "width_mult"):
        with pytest.raises(ConfigError, match=f"invalid value '{value}' for '{key}'"):
            EfficientNetConfig(**{key: value})
    with pytest.raises(ConfigError, match="for 'compression'"):
        DenseNetConfig(compression=value)


def test_replace_revalidates() -> None:
    config = parse_query("preset=resnet50")
    with pytest.raises(ConfigError, match="depth=51"):
        dataclasses.replace(config, depth=51)


def test_query_to_dict() -> None:
    assert query_to_dict("?a=1&b=x%2Cy;c=") == {"a": "1", "b": "x,y", "c": ""}
    assert query_to_dict("a=1&&b=2&") == {"a": "1", "b": "2"}


# -- errors ----------------------------------------------------------------------------------


def test_unknown_key_names_key_and_lists_allowed() -> None:
    message = error_of("family=resnet&foo=1")
    assert message.startswith("unknown key 'foo' for family=resnet; allowed: preset, depth, block, width")
    for key in knobs(ResNetConfig):
        assert key in message
    message = error_of("preset=mobilenet_v2&depth=50")
    assert "unknown key 'depth' for family=mobilenet_v2" in message
    assert "alpha" in message


def test_config_error_is_value_error() -> None:
    assert issubclass(ConfigError, ValueError)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("family=resnet&depth=abc", "invalid value 'abc' for 'depth'; allowed: a number from 8 to 1202"),
        ("family=resnet&depth=50.5", "invalid value '50.5' for 'depth'"),
        (
            "family=resnet&depth=5000",
            "depth=5000 is out of range; allowed: a number from 8 to 1202 (whole numbers only)",
        ),
        ("family=resnet&depth=4", "depth=4 is out of range"),
        ("family=resnet&depth=", "key 'depth' has no value"),
        ("family=resnet&skip=maybe", "invalid value 'maybe' for 'skip'; allowed: on or off"),
        ("family=resnet&stem=tiny", "invalid value 'tiny' for 'stem'; allowed: one of imagenet, cifar"),
        ("family=resnet&deform=5", "invalid value '5' for 'deform'; allowed: one of 1, 2, 3, 4"),
        ("family=resnet&deform=1,x", "invalid value '1,x' for 'deform'"),
        ("family=densenet&blocks=6-x", "invalid value '6-x' for 'blocks'; allowed: integers from 1 to 128"),
        ("family=densenet&blocks=6-0", "blocks=6-0 is out of range"),
        ("family=densenet&compression=1.5", "compression=1.5 is out of range; allowed: a number from 0.1 to 1"),
        ("family=efficientnet&phi=nan", "invalid value 'nan' for 'phi'"),
        ("family=efficientnet&phi=inf", "invalid value 'inf' for 'phi'"),
        ("family=efficientnet&phi=-1", "phi=-1 is out of range; allowed: a number from 0 to 8"),
        ("family=vgg&depth=12", "invalid value '12' for 'depth'; allowed: one of 11, 13, 16, 19"),
        ("family=plain&init=zeros", "allowed: one of default, kaiming, xavier, orthogonal"),
        ("family=resnet&classes=0", "classes=0 is out of range"),
        ("family=resnet&in_channels=65", "in_channels=65 is out of range"),
        ("family=resnet&resolution=2000", "resolution=2000 is out of range; allowed: a number from 8 to 1024"),
    ],
)
def test_bad_values(query: str, expected: str) -> None:
    assert expected in error_of(query)


def test_duplicate_key() -> None:
    assert error_of("family=resnet&depth=18&depth=34") == "key 'depth' is given twice"


def test_not_key_value() -> None:
    assert error_of("family=resnet&depth") == "'depth' is not key=value (write e.g. depth=50)"


def test_missing_family() -> None:
    assert error_of("depth=50") == "the query needs family=... or preset=... (e.g. preset=resnet50)"
    assert "needs family=" in error_of("")


def test_unknown_preset_lists_presets() -> None:
    message = error_of("preset=resnet51")
    assert message.startswith("unknown preset 'resnet51'; allowed: ")
    for name in PRESETS:
        assert name in message


def test_unknown_family_lists_families() -> None:
    message = error_of("family=lenet")
    assert message == "unknown family 'lenet'; allowed: " + ", ".join(FAMILIES)
    with pytest.raises(ConfigError, match="unknown family 'lenet'"):
        default_config("lenet")


def test_preset_with_conflicting_family() -> None:
    assert error_of("preset=resnet50&family=vgg") == "preset 'resnet50' is family=resnet, not family=vgg"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (
            "family=resnet&depth=51",
            "depth=51 is not an ImageNet ResNet depth; allowed: 10, 18, 26, 34, 50, 101, 152, 200",
        ),
        ("family=resnet&block=basic&depth=50", "depth=50 is not a depth for block=basic; allowed: 10, 18, 34"),
        ("family=resnet&block=bottleneck&depth=18", "depth=18 is not a depth for block=bottleneck; allowed: 26, 50"),
        ("family=resnet&stem=cifar&depth=21", "depth=21 with stem=cifar and bottleneck blocks must be 9n+2"),
        ("family=resnet&stem=cifar&depth=29&block=basic", "depth=29 with stem=cifar and basic blocks must be 6n+2"),
        ("family=resnet&depth=18&groups=2", "groups and width_per_group need block=bottleneck"),
        ("family=resnet&depth=34&width_per_group=128", "groups and width_per_group need block=bottleneck"),
        ("family=resnet&depth=50&width=4&width_per_group=8", "width_per_group=8 leaves the first stage's bottleneck"),
        ("family=resnet&stem=cifar&depth=20&deform=4", "deform=4: stem=cifar has stages 1-3"),
        ("family=resnet&stem=cifar&depth=20&deform=2,3,4", "deform=4: stem=cifar has stages 1-3"),
        ("family=densenet&stem=cifar&depth=41", "depth=41 with stem=cifar must be 6n+4"),
        ("family=densenet&depth=100", "depth=100 is not an ImageNet DenseNet; allowed: 121, 161, 169, 201, 264"),
        ("family=densenet&blocks=1-1-1-1-1-1-1", "blocks: at most 6 dense blocks"),
        ("family=resnet&resolution=16", "resolution=16 is too small for ResNet: it needs at least 32 px"),
        (
            "family=densenet&blocks=2-2-2-2-2-2&resolution=127",
            "resolution=127 is too small for DenseNet: it needs at least 128 px",
        ),
        ("family=mobilenet_v2&resolution=31", "resolution=31 is too small for MobileNet V2: it needs at least 32 px"),
    ],
)
def test_cross_key_errors(query: str, expected: str) -> None:
    assert expected in error_of(query)


def test_cross_key_boundaries_are_allowed() -> None:
    assert parse_query("family=resnet&stem=cifar&depth=20&deform=3").deform == (3,)
    assert parse_query("family=resnet&resolution=32").input_resolution == 32
    assert parse_query("family=resnet&stem=cifar&depth=8&resolution=8").input_resolution == 8
    assert parse_query("family=densenet&stem=cifar&depth=10").block_layout == (1, 1, 1)
    assert parse_query("family=resnet&stem=cifar&depth=11").block_type == "bottleneck"


def test_densenet_unknown_depth_is_config_error_not_key_error() -> None:
    # Regression: the resolution check used to read the layout table before validate() ran.
    assert "depth=20 is not an ImageNet DenseNet" in error_of("family=densenet&depth=20")
