"""CNN Architecture Explorer: build a CNN from a query string and see what the design does."""

from explorer.config import FAMILIES, PRESETS, ConfigError, format_query, parse_query
from explorer.families import build  # registers every family, builder and preset

__all__ = ["FAMILIES", "PRESETS", "ConfigError", "build", "format_query", "parse_query"]
