"""What a config is made of: knobs, the base config, and writing a config as its query string.

Every family is a frozen, keyword-only dataclass whose fields are *knobs*. A knob carries its own
parsing rule, range and help text in the field metadata, so parsing, formatting, validation, the
key table (docs/config-language.md) and the Build page's sliders all come from one place.

This module is what the families import: it imports no family. Writing a config needs only the
config (its class, and the presets of its family, which its family module declared when it was
imported: :func:`format_query` picks the shortest of ``family=...`` and ``preset=...`` forms).
Reading a query string needs every family loaded, so :func:`explorer.config.parse_query` lives a
floor above, next to the families it looks keys up in.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import parse_qsl, quote

from explorer.compound import CompoundConfig, KnobScaling, Multipliers, Rule, not_scaled
from explorer.errors import InputError

__all__ = [
    "ConfigError",
    "Knob",
    "ModelConfig",
    "config_from",
    "family_presets",
    "format_query",
    "knob",
    "knobs",
    "presets_of",
    "query_to_dict",
    "register_preset",
    "registered_presets",
    "replace",
]


class ConfigError(InputError):
    """A config that cannot be built; the message names the key, the value and what is allowed."""


@dataclass(frozen=True)
class Knob:
    """How one config key is read, written, checked and shown.

    kind: ``int``, ``float``, ``choice`` (a string from ``choices``), ``onoff`` (bool written
    ``on``/``off``), ``ints`` (a tuple of ints written ``6-12-24-16``), ``stages`` (a sorted set
    of stage numbers written ``3,4``) or ``text`` (a string in a small language of its own, such as
    the block composer's ``conv32.s2,mb16.e1``: ``codec`` checks it and returns its canonical form).
    """

    kind: str
    help: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[Any, ...] = ()
    step: float | None = None
    label: str | None = None
    #: For knobs whose default is None: the words shown for "derived from the other knobs".
    derived: str | None = None
    #: For ``text`` knobs: ``codec(key, text)`` returns the canonical text or raises ConfigError.
    codec: Callable[[str, str], str] | None = None
    #: For ``text`` knobs: what values are allowed, in words.
    syntax: str | None = None

    def describe_range(self) -> str:
        """Plain words for what values are allowed (used in error messages and the README)."""
        if self.kind == "onoff":
            return "on or off"
        if self.kind == "text":
            return self.syntax or "text"
        if self.choices:
            return "one of " + ", ".join(str(c) for c in self.choices)
        if self.kind in ("ints", "stages"):
            sep = "-" if self.kind == "ints" else ","
            return f"integers from {_num(self.minimum)} to {_num(self.maximum)} separated by '{sep}'"
        return f"a number from {_num(self.minimum)} to {_num(self.maximum)}" + (
            " (whole numbers only)" if self.kind == "int" else ""
        )

    # -- text <-> value ----------------------------------------------------------------
    def parse(self, key: str, text: str) -> Any:
        text = text.strip()
        if text == "":
            raise ConfigError(f"key '{key}' has no value; allowed: {self.describe_range()}")
        if self.kind == "text":
            return self.canonical(key, text)
        try:
            value = self._parse(text)
        except (ValueError, TypeError):
            raise ConfigError(f"invalid value '{text}' for '{key}'; allowed: {self.describe_range()}") from None
        self.check(key, value)
        return value

    def canonical(self, key: str, text: str) -> str:
        """A ``text`` knob's value in canonical form (ConfigError, naming ``key``, if it is not valid)."""
        return self.codec(key, text) if self.codec is not None else text

    def _parse(self, text: str) -> Any:
        if self.kind == "int":
            return int(text)
        if self.kind == "float":
            value = float(text)
            if not math.isfinite(value):
                raise ValueError(text)
            return value
        if self.kind == "onoff":
            lowered = text.lower()
            if lowered in ("on", "true", "1", "yes"):
                return True
            if lowered in ("off", "false", "0", "no"):
                return False
            raise ValueError(text)
        if self.kind == "choice":
            if text not in self.choices:
                raise ValueError(text)
            return text
        if self.kind == "ints":
            return tuple(int(part) for part in text.split("-"))
        if self.kind == "stages":
            if text.lower() in ("none", "off"):
                return ()
            return tuple(sorted({int(part) for part in text.split(",")}))
        raise AssertionError(f"unknown knob kind {self.kind}")  # a programming error, not input

    def format(self, value: Any) -> str:
        if self.kind == "onoff":
            return "on" if value else "off"
        if self.kind == "ints":
            return "-".join(str(v) for v in value)
        if self.kind == "stages":
            return ",".join(str(v) for v in value) if value else "none"
        if self.kind == "float":
            text = repr(float(value))
            return text[:-2] if text.endswith(".0") else text
        return str(value)

    def check(self, key: str, value: Any) -> None:
        """Raise ConfigError unless ``value`` (already typed) is allowed."""
        if value is None:
            if self.derived is None:
                raise ConfigError(f"'{key}' needs a value; allowed: {self.describe_range()}")
            return
        if self.kind == "text":
            if not isinstance(value, str):
                raise ConfigError(f"invalid value '{value}' for '{key}'; allowed: {self.describe_range()}")
            self.canonical(key, value)
            return
        items = value if self.kind in ("ints", "stages") else (value,)
        if self.kind in ("ints", "stages") and (not isinstance(value, tuple) or (self.kind == "ints" and not value)):
            raise ConfigError(f"invalid value for '{key}'; allowed: {self.describe_range()}")
        for item in items:
            if self.kind == "onoff":
                if not isinstance(item, bool):
                    raise ConfigError(f"invalid value '{item}' for '{key}'; allowed: on or off")
                continue
            if self.kind == "choice" or self.choices:
                if isinstance(item, bool) or item not in self.choices:
                    shown = item if self.kind == "stages" else _formatted(self, item)
                    raise ConfigError(f"invalid value '{shown}' for '{key}'; allowed: {self.describe_range()}")
                continue
            if isinstance(item, bool) or not isinstance(item, (int, float)) or not math.isfinite(item):
                raise ConfigError(f"invalid value '{item}' for '{key}'; allowed: {self.describe_range()}")
            if self.kind in ("int", "ints", "stages") and not float(item).is_integer():
                raise ConfigError(f"invalid value '{item}' for '{key}'; allowed: {self.describe_range()}")
            if (self.minimum is not None and item < self.minimum) or (self.maximum is not None and item > self.maximum):
                raise ConfigError(f"{key}={self.format(value)} is out of range; allowed: {self.describe_range()}")


def _formatted(spec: Knob, value: Any) -> Any:
    """``value`` as the knob writes it, or as it is if it is not of the knob's type (a float knob
    with choices, such as a width, may be handed a list or a word by a Python caller)."""
    try:
        return spec.format(value)
    except (TypeError, ValueError):
        return value


def _num(x: float | None) -> str:
    if x is None:
        return "?"
    return str(int(x)) if float(x).is_integer() else str(x)


def knob(default: Any, kind: str, help: str, **spec: Any) -> Any:
    """A dataclass field that is a config key (see :class:`Knob`)."""
    return field(default=default, metadata={"knob": Knob(kind=kind, help=help, **spec)})


@dataclass(frozen=True, kw_only=True)
class ModelConfig:
    """Keys every family has. Subclasses add their own knobs and a ``validate`` method."""

    family: ClassVar[str] = ""
    title: ClassVar[str] = ""
    #: Resolution used when ``resolution`` is not given (a family may derive it instead).
    natural_resolution: ClassVar[int] = 224
    #: Smallest input side the architecture accepts (its total stride, or what its pooling needs).
    min_resolution: ClassVar[int] = 32
    #: How ``resolution`` is chosen when not given, in words (for help texts and the README).
    resolution_rule: ClassVar[str] = "224"

    classes: int = knob(1000, "int", "number of output classes", minimum=1, maximum=100000)
    resolution: int | None = knob(
        None,
        "int",
        "input side in pixels (square images)",
        minimum=8,
        maximum=1024,
        step=1,
        derived="the family's standard input size",
    )
    in_channels: int = knob(3, "int", "input channels (3 for RGB, 1 for grey)", minimum=1, maximum=64)

    def __post_init__(self) -> None:
        for name, spec in knobs(type(self)).items():
            value = getattr(self, name)
            if isinstance(value, list):  # accept lists from Python callers; store hashable tuples
                value = tuple(value)
                object.__setattr__(self, name, value)
            spec.check(name, value)
            if spec.kind == "text":  # canonical form: equal configs have equal strings
                object.__setattr__(self, name, spec.canonical(name, value))
            if spec.kind in ("int", "ints", "stages") and value is not None:  # normalise as a query would:
                if spec.kind == "int":  # 32.0 -> 32
                    value = int(value)
                else:  # stages are a sorted set: [4, 2, 4] -> (2, 4)
                    value = tuple(sorted({int(v) for v in value}) if spec.kind == "stages" else map(int, value))
                object.__setattr__(self, name, value)
        # Cross-key checks first: a family's min_resolution may read keys only validate() vouches for.
        self.validate()
        if self.input_resolution < self.min_resolution:
            raise ConfigError(
                f"resolution={self.input_resolution} is too small for {self.title}: "
                f"it needs at least {self.min_resolution} px"
            )

    def validate(self) -> None:
        """Cross-key checks; raise ConfigError with the reason."""

    @property
    def input_resolution(self) -> int:
        """The input side actually used: ``resolution`` if given, else the family's rule."""
        return self.resolution if self.resolution is not None else self.derived_resolution()

    def derived_resolution(self) -> int:
        return self.natural_resolution

    def derived_values(self) -> dict[str, Any]:
        """What each knob that may be None (auto) stands for in this config."""
        return {"resolution": self.input_resolution}

    def derived_value(self, name: str) -> Any:
        return self.derived_values()[name]

    def resolved(self) -> dict[str, Any]:
        """Every knob with derived (None) values replaced by what the model actually uses."""
        values = {name: getattr(self, name) for name in knobs(type(self))}
        return values | {k: v for k, v in self.derived_values().items() if values.get(k) is None}

    @classmethod
    def options_for(cls, name: str, values: Mapping[str, Any]) -> tuple[Any, ...] | None:
        """The values knob ``name`` may take given the other knobs' ``values`` (None: a range)."""
        spec = knobs(cls)[name]
        return tuple(spec.choices) if spec.choices else None

    def options(self, name: str) -> tuple[Any, ...] | None:
        return type(self).options_for(name, {k: getattr(self, k) for k in knobs(type(self))})

    @functools.cached_property
    def query(self) -> str:
        """The canonical query string (computed once per config: matching it against every preset
        of the family was a third of a cached page's run, asked for a dozen times per run)."""
        return format_query(self)

    # -- how the family scales (the Scaling lab asks the config, never its type) --------------------
    def scale_knobs(self, m: Multipliers) -> KnobScaling:
        """The knob values that scale this config's depth by ``m.depth`` and its width by
        ``m.width`` (the input side is scaled by the caller, the same way for every family).
        Default: the family has no rule, and the result says so."""
        return not_scaled(self.family, m)

    def depth_rounding(self) -> str:
        """How a scaled depth is rounded, in words (for the Scaling lab's explanation)."""
        return "rounded to whole layers"

    def rule_start(self) -> ModelConfig:
        """The phi=0 network a compound-scaling curve starts from (the config itself by default)."""
        return self

    def own_rule(self) -> tuple[Rule, float] | None:
        """The compound rule and phi this config carries in its own keys (EfficientNet), else None."""
        return None

    def compound_config(self, rule: Rule, phi: float) -> CompoundConfig | None:
        """This family's own config at ``phi`` when it has compound-rule keys (EfficientNet);
        None for families scaled through :meth:`scale_knobs`."""
        return None


def knobs(config_type: type[ModelConfig]) -> dict[str, Knob]:
    """The knobs of a config class, in declaration order (family keys first, common keys last)."""
    own = [f for f in dataclasses.fields(config_type) if "knob" in f.metadata]
    common = {f.name for f in dataclasses.fields(ModelConfig)}
    ordered = [f for f in own if f.name not in common] + [f for f in own if f.name in common]
    return {f.name: f.metadata["knob"] for f in ordered}


# -- presets -------------------------------------------------------------------------------

#: preset name -> the query string that defines it (in family keys only), in the order the family
#: modules declare them. Read it through :func:`registered_presets` (a copy) or, complete and
#: ready, as ``explorer.families.PRESETS``.
_PRESETS: dict[str, str] = {}
_PRESET_CONFIGS: dict[str, ModelConfig] = {}
#: family -> its preset names, in declaration order (read on every page run: parsed once here).
_FAMILY_PRESETS: dict[str, list[str]] = {}


def register_preset(name: str, query: str) -> None:
    """Declare a preset (called by the family modules as they are imported). A name is declared once:
    a second declaration raises ValueError (silently replacing the first would change what a link
    that names it opens)."""
    family = query_to_dict(query)["family"]
    if name in _PRESETS:
        raise ValueError(f"preset '{name}' is declared twice: '{_PRESETS[name]}' and '{query}'")
    _PRESETS[name] = query
    _FAMILY_PRESETS.setdefault(family, []).append(name)
    _PRESET_CONFIGS.pop(name, None)


def presets_of(family: str) -> list[str]:
    """The names of ``family``'s presets, in declaration order."""
    return list(_FAMILY_PRESETS.get(family, ()))


def registered_presets() -> dict[str, str]:
    """Every preset declared so far, name -> query (``explorer.families.PRESETS`` once all are)."""
    return dict(_PRESETS)


def family_presets(config_type: type[ModelConfig]) -> Iterator[tuple[str, ModelConfig]]:
    """The presets of ``config_type``'s family, as configs, in declaration order. They are all
    declared once the config class exists: importing any family module imports the package
    ``explorer.families`` first, and that imports every family module."""
    for name in presets_of(config_type.family):
        if name not in _PRESET_CONFIGS:
            pairs = query_to_dict(_PRESETS[name])
            del pairs["family"]
            _PRESET_CONFIGS[name] = config_from(config_type, pairs)
        yield name, _PRESET_CONFIGS[name]


# -- reading and writing -------------------------------------------------------------------


def query_to_dict(query: str | Mapping[str, str]) -> dict[str, str]:
    """Split a query string into keys and values; a repeated key is an error."""
    if isinstance(query, Mapping):
        return {str(k): str(v) for k, v in query.items()}
    text = query.strip()
    if text.startswith("?"):
        text = text[1:]
    pairs: dict[str, str] = {}
    for part in text.replace(";", "&").split("&"):
        if not part.strip():
            continue
        if "=" not in part:
            raise ConfigError(f"'{part}' is not key=value (write e.g. depth=50)")
        ((key, value),) = parse_qsl(part, keep_blank_values=True)
        key = key.strip()
        if key in pairs:
            raise ConfigError(f"key '{key}' is given twice")
        pairs[key] = value
    return pairs


def config_from(config_type: type[ModelConfig], pairs: Mapping[str, str]) -> ModelConfig:
    """A config of ``config_type`` from its keys' texts (no ``family`` or ``preset`` among them),
    each parsed and checked by its knob. Raises ConfigError naming an unknown key or a bad value."""
    spec = knobs(config_type)
    values: dict[str, Any] = {}
    for key, text in pairs.items():
        if key not in spec:
            raise ConfigError(
                f"unknown key '{key}' for family={config_type.family}; allowed: " + ", ".join(["preset", *spec])
            )
        values[key] = spec[key].parse(key, text)
    return config_type(**values)


def _diff_keys(config: ModelConfig, reference: ModelConfig) -> list[str] | None:
    """Keys where ``config`` differs from ``reference``; None if one can't be written (a None)."""
    keys = []
    for name in knobs(type(config)):
        value = getattr(config, name)
        if value != getattr(reference, name):
            if value is None:
                return None
            keys.append(name)
    return keys


def _render(config: ModelConfig, head: str, keys: list[str]) -> str:
    spec = knobs(type(config))
    parts = [head] + [f"{k}={quote(spec[k].format(getattr(config, k)), safe=',-.')}" for k in keys]
    return "&".join(parts)


def format_query(config: ModelConfig) -> str:
    """The canonical query string: ``preset=NAME`` for a config that is exactly a preset, else the
    shortest of ``family=...`` + changed keys and ``preset=NAME`` + changed keys (family on a tie)."""
    candidates: list[tuple[int, int, str]] = []
    family_keys = _diff_keys(config, type(config)())
    assert family_keys is not None  # family defaults hold None only where configs may
    candidates.append((len(family_keys) + 1, 0, _render(config, f"family={config.family}", family_keys)))
    for name, preset in family_presets(type(config)):
        keys = _diff_keys(config, preset)
        if keys is not None:
            candidates.append((len(keys) + (1 if keys else 0), 1, _render(config, f"preset={name}", keys)))
    return min(candidates)[2]


def replace(config: ModelConfig, **changes: Any) -> ModelConfig:
    """``dataclasses.replace`` that re-validates (kept as a name for readers of the pages)."""
    return dataclasses.replace(config, **changes)
