"""Subcommands of ``python -m explorer`` beyond profile and keys; each module registers itself
with :func:`explorer.cli.command`. Add a module here and import it below."""

from explorer.commands import deform, gradcam, graph, scaling, signal  # noqa: F401
