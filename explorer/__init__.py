"""CNN Architecture Explorer: build a CNN from a query string and see what the design does.

The package imports nothing itself (importing a submodule imports this first, so anything here
would sit under every layer): read a query with ``explorer.config.parse_query``, write one with a
config's ``.query`` (``explorer.knobs.format_query``), build with ``explorer.families.build``.
"""
