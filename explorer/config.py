"""Reading the config language: a query string such as ``family=resnet&depth=50&deform=4``.

``parse_query`` turns a query string into a config (raising :class:`~explorer.knobs.ConfigError`, a
``ValueError``, that names the bad key or value and what is allowed);
:func:`explorer.knobs.format_query` (a config's ``.query``) turns it back into its canonical query
string, and ``parse_query(format_query(c)) == c``.

Reading needs every family and preset, so this module imports ``explorer.families`` (which imports
only what a config is made of, :mod:`explorer.knobs`, never this module).
"""

from __future__ import annotations

from collections.abc import Mapping

from explorer.families import FAMILIES, PRESETS
from explorer.knobs import ConfigError, ModelConfig, config_from, family_presets, query_to_dict

__all__ = ["default_config", "matching_preset", "parse_query", "preset_config"]


def default_config(family: str) -> ModelConfig:
    """The config of ``family`` with every knob at its default."""
    if family not in FAMILIES:
        raise ConfigError(f"unknown family '{family}'; allowed: {', '.join(FAMILIES)}")
    return FAMILIES[family]()


def parse_query(query: str | Mapping[str, str]) -> ModelConfig:
    """Query string (or mapping) -> validated config. Raises ConfigError with a clear reason."""
    pairs = query_to_dict(query)
    base: dict[str, str] = {}
    if "preset" in pairs:
        name = pairs.pop("preset")
        if name not in PRESETS:
            raise ConfigError(f"unknown preset '{name}'; allowed: {', '.join(sorted(PRESETS))}")
        base = query_to_dict(PRESETS[name])
        if "family" in pairs and pairs["family"] != base["family"]:
            raise ConfigError(f"preset '{name}' is family={base['family']}, not family={pairs['family']}")
    merged = base | pairs
    family = merged.pop("family", None)
    if family is None:
        raise ConfigError("the query needs family=... or preset=... (e.g. preset=resnet50)")
    if family not in FAMILIES:
        raise ConfigError(f"unknown family '{family}'; allowed: {', '.join(FAMILIES)}")
    return config_from(FAMILIES[family], merged)


def preset_config(name: str) -> ModelConfig:
    """The config of preset ``name`` (ConfigError if there is none)."""
    if name not in PRESETS:
        raise ConfigError(f"unknown preset '{name}'; allowed: {', '.join(sorted(PRESETS))}")
    family = FAMILIES[query_to_dict(PRESETS[name])["family"]]
    return dict(family_presets(family))[name]


def matching_preset(config: ModelConfig) -> str | None:
    """The name of the preset that is exactly this config, if any."""
    for name, preset in family_presets(type(config)):
        if preset == config:
            return name
    return None
