"""CNN Architecture Explorer: build a CNN from a query string and see what the design does."""

from explorer.config import ConfigError, format_query, parse_query

__all__ = ["ConfigError", "format_query", "parse_query"]
