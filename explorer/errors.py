"""The one kind of error that means "bad input": the caller can fix it by asking for something else.

:class:`InputError` is raised by the library for a config, a setting or a file it cannot use (an
unknown key, a learning rate below zero, a grid with no point, an image it cannot decode). The pages
show its message as it is; the command line exits 2 with one ``error:`` line, and names the setting
as its own flag (``field="alpha"`` becomes ``--alpha``), so the library never speaks in flags. Any
other exception is a bug: the command line exits 1 naming it, and prints the whole trace when asked.

It is a :class:`ValueError`, so code that catches ValueError (the pages) keeps catching it.
"""

from __future__ import annotations

__all__ = ["InputError"]


class InputError(ValueError):
    """Bad input that the caller can fix.

    ``field``: the setting at fault, as the library names it (``"lr"``, ``"alpha"``); the message then
    reads ``"{field} {problem}"`` and a command line says ``problem`` after its own flag for that field.
    None: not one setting (a config query, a file), and the message is ``problem`` alone.
    """

    def __init__(self, problem: str, *, field: str | None = None) -> None:
        self.problem, self.field = problem, field
        super().__init__(f"{field} {problem}" if field else problem)
