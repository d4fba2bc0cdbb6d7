"""The source of the project's own modules, made standalone: a class or function with everything
it needs from ``explorer`` (helpers, constants, base classes), in dependency order, and the imports
from torch, torchvision and the standard library that these lines use.

The text comes from the project's files (:mod:`ast` finds each definition and the names it uses),
so an exported model runs the very code the app runs; nothing is kept in a second copy here.
A name a definition uses is resolved in its own module: a top-level definition there is emitted
first, an import from ``explorer`` is followed into that module, any other import is kept as an
import line. Names in ``rename`` (the config classes) are neither followed nor emitted: the caller
defines them and the emitted text uses the new name.
"""

from __future__ import annotations

import ast
import builtins
import importlib
import inspect
import re
from dataclasses import dataclass, field
from functools import cache

__all__ = ["Standalone", "module_imports", "standalone"]

_PROJECT = "explorer"


@dataclass(frozen=True)
class _Module:
    name: str
    lines: tuple[str, ...]
    #: top-level name -> (first line, last line), 1-based, decorators and leading ``#`` comments included
    definitions: dict[str, tuple[int, int]]
    #: local name -> (module imported from or None for ``import x``, original name, import line)
    imports: dict[str, tuple[str | None, str, str]]
    #: top-level name -> the names its definition uses
    uses: dict[str, frozenset[str]]


def _span(node: ast.stmt, lines: list[str]) -> tuple[int, int]:
    first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
    while first > 1 and lines[first - 2].lstrip().startswith("#"):  # the comment that explains it
        first -= 1
    return first, node.end_lineno or node.lineno


def _targets(node: ast.stmt) -> list[str]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    if isinstance(node, ast.Assign):
        return [t.id for t in node.targets if isinstance(t, ast.Name)]
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return [node.target.id]
    return []


def _import_line(node: ast.Import | ast.ImportFrom, alias: ast.alias) -> tuple[str | None, str, str]:
    spelled = alias.name + (f" as {alias.asname}" if alias.asname else "")
    if isinstance(node, ast.Import):
        return None, alias.name, f"import {spelled}"
    return node.module, alias.name, f"from {node.module} import {spelled}"


@cache
def _parse(module_name: str) -> _Module:
    module = importlib.import_module(module_name)
    text = inspect.getsource(module)
    lines = text.splitlines()
    tree = ast.parse(text)
    definitions: dict[str, tuple[int, int]] = {}
    uses: dict[str, frozenset[str]] = {}
    imports: dict[str, tuple[str | None, str, str]] = {}
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            if isinstance(node, ast.ImportFrom) and (node.level or node.module == "__future__"):
                continue
            for alias in node.names:
                local = alias.asname or alias.name.split(".")[0]
                imports[local] = _import_line(node, alias)
            continue
        for name in _targets(node):
            definitions[name] = _span(node, lines)
            uses[name] = frozenset(n.id for n in ast.walk(node) if isinstance(n, ast.Name)) - {name}
    return _Module(module_name, tuple(lines), definitions, imports, uses)


@dataclass
class Standalone:
    """What :func:`standalone` collected: import lines and definitions (source text), in order."""

    imports: list[str] = field(default_factory=list)
    definitions: list[str] = field(default_factory=list)
    #: (module, name) of each definition, in the order of ``definitions``
    origins: list[tuple[str, str]] = field(default_factory=list)

    def add_import(self, line: str) -> None:
        if line not in self.imports:
            self.imports.append(line)


def standalone(
    roots: list[tuple[str, str]],
    rename: dict[str, str] | None = None,
    stubs: dict[tuple[str, str], str] | None = None,
) -> Standalone:
    """The definitions ``roots`` (``(module, name)`` pairs) and, before each, what it needs.
    ``stubs``: definitions written as the given text instead of their source (and not followed)."""
    rename = rename or {}
    stubs = stubs or {}
    out = Standalone()
    done: set[tuple[str, str]] = set()
    taken: dict[str, tuple[str, str]] = {}

    def emit(module_name: str, name: str) -> None:
        key = (module_name, name)
        if key in done:
            return
        done.add(key)  # before the dependencies: a cycle (mutual recursion) is emitted once
        if key in stubs:
            out.definitions.append(stubs[key])
            out.origins.append(key)
            return
        module = _parse(module_name)
        if name not in module.definitions:
            raise KeyError(f"{module_name} defines no top-level '{name}'")
        for used in sorted(module.uses[name]):
            resolve(module, used)
        if name in taken and taken[name] != key:
            raise ValueError(f"two definitions named '{name}': {taken[name]} and {key}")
        taken[name] = key
        first, last = module.definitions[name]
        text = "\n".join(module.lines[first - 1 : last])
        for old, new in rename.items():
            text = re.sub(rf"\b{re.escape(old)}\b", new, text)
        out.definitions.append(text)
        out.origins.append(key)

    def resolve(module: _Module, used: str) -> None:
        if used in rename:
            return
        if used in module.definitions:
            emit(module.name, used)
        elif used in module.imports:
            source, original, line = module.imports[used]
            if source is not None and (source == _PROJECT or source.startswith(_PROJECT + ".")):
                if original != used:
                    raise ValueError(f"{module.name} imports {original} as {used}: not supported here")
                emit(_owner(source, original), original)
            else:
                out.add_import(line)
        elif not hasattr(builtins, used):
            pass  # a local variable or argument (names are collected without scopes)

    for module_name, name in roots:
        emit(_owner(module_name, name), name)
    return out


def _owner(module_name: str, name: str) -> str:
    """The module that defines ``name`` (it may be re-exported by ``module_name``)."""
    module = _parse(module_name)
    if name in module.definitions:
        return module_name
    if name in module.imports:
        source, original, _ = module.imports[name]
        if source is not None:
            return _owner(source, original)
    raise KeyError(f"{module_name} neither defines nor imports '{name}'")


def module_imports(module_name: str) -> dict[str, str]:
    """Local name -> the import line that binds it, for the top-level imports of a module."""
    return {local: line for local, (_, _, line) in _parse(module_name).imports.items()}
