"""Subcommands of ``python -m explorer`` beyond profile and keys; each module registers itself
with :func:`explorer.cli.command`. Add a module here and import it below."""

from explorer.commands import graph  # noqa: F401
from explorer.commands import scaling  # noqa: F401
from explorer.commands import signal  # noqa: F401
