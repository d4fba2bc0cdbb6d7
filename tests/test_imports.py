"""Imports point only toward the ground, lazy ones included; no cycles; the core stays light.

The layer order (top to bottom; a module may import its own layer and any layer below it, never
one above, whether the import runs when the module loads or later inside a function)::

    app.py
    pages/                    one view each
    pages/_shared/            what the pages share
    views/ cli/ export/       data -> words and figures; commands; a design as code
    analysis/                 config or model -> plain data
    runtime/                  devices, the memory guard, real models and their weights
    measure/                  meta-device counting: profile, FLOPs, training memory, hooks
    config.py keys.py controls.py   reading the query language (every family loaded)
    families/                 one file per family, its torch modules in families/nets/
    knobs.py                  what a config is made of, and writing it as a query
    compound.py formatting.py data/    the ground: imports nothing of the project

Imports are read from the source (every ``import`` statement anywhere in the file: module level,
inside functions, under ``if TYPE_CHECKING:``; relative imports resolved), so an import that runs
only when a function is called cannot hide. Parsing instead of importing keeps this test at a
fraction of a second (importing torch a hundred times takes minutes on the CI machine).

Besides the order: the library never imports Streamlit, the pages and the views never import
torch or torchvision (they draw before torch is imported), no module imports another's private name
(``from m import _x``), and the module-level imports form no cycle.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Layers from the top down: (name, module prefixes). A module belongs to the layer of its longest
#: matching prefix.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("app", ("app",)),
    ("pages", ("pages",)),
    ("pages/_shared", ("pages._shared",)),
    ("views, cli, export", ("explorer.views", "explorer.cli", "explorer.export", "explorer.__main__")),
    ("analysis", ("explorer.analysis",)),
    ("runtime", ("explorer.runtime",)),
    ("measure", ("explorer.measure",)),
    ("the language", ("explorer.config", "explorer.keys", "explorer.controls")),
    ("families", ("explorer.families",)),
    ("knobs", ("explorer.knobs",)),
    ("the ground", ("explorer", "explorer.compound", "explorer.formatting", "explorer.data")),
)


@dataclass(frozen=True)
class Import:
    """One imported project module (or outside package), where it is imported and what from it."""

    file: str  # relative to the repository, as ``explorer/runtime/guard.py``
    line: int
    source: str  # the importing module
    target: str  # the imported module, resolved (``from a import b`` names a.b when that is a module)
    names: tuple[str, ...] = ()  # the names taken from ``target`` (from-imports of attributes)
    #: When it runs: "load" (with the module), "lazy" (inside a function), "typing" (TYPE_CHECKING only).
    when: str = "load"

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


def module_name(root: Path, path: Path) -> str:
    return ".".join(path.relative_to(root).with_suffix("").parts).removesuffix(".__init__")


def project_files(root: Path) -> dict[str, Path]:
    """Every module of the app: app.py, pages/ and explorer/, by dotted name."""
    paths = [root / "app.py", *sorted((root / "pages").rglob("*.py")), *sorted((root / "explorer").rglob("*.py"))]
    return {module_name(root, p): p for p in paths if p.exists()}


def _deferred(tree: ast.Module) -> dict[int, str]:
    """id of each import node that does not run at module load -> "lazy" (inside a function) or
    "typing" (under ``if TYPE_CHECKING:``)."""
    deferred: dict[int, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            inner, kind = [node], "lazy"
        elif isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            inner, kind = list(node.body), "typing"
        else:
            continue
        for sub in inner:
            for n in ast.walk(sub):
                if isinstance(n, (ast.Import, ast.ImportFrom)):
                    deferred.setdefault(id(n), kind)
    return deferred


def imports_of(root: Path, path: Path, name: str, modules: set[str]) -> Iterator[Import]:
    """Every import statement of ``path`` (module ``name``), lazy ones included, resolved."""
    tree = ast.parse(path.read_text(), str(path))
    file = path.relative_to(root).as_posix()
    deferred = _deferred(tree)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(tree):
        when = deferred.get(id(node), "load")
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(file, node.lineno, name, alias.name, when=when)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join([*parts[: len(parts) - node.level + 1], *([base] if base else [])])
            attributes = []
            for alias in node.names:
                if f"{base}.{alias.name}" in modules:  # `from explorer.analysis import latency`
                    yield Import(file, node.lineno, name, f"{base}.{alias.name}", when=when)
                else:
                    attributes.append(alias.name)
            if attributes:
                yield Import(file, node.lineno, name, base, tuple(attributes), when=when)


def all_imports(root: Path = ROOT) -> list[Import]:
    modules = project_files(root)
    return [found for name, path in modules.items() for found in imports_of(root, path, name, set(modules))]


def _under(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def layer_of(module: str) -> int | None:
    """Index of the module's layer in :data:`LAYERS` (0 is the top), None for outside packages."""
    matches = [(len(p), index) for index, (_, prefixes) in enumerate(LAYERS) for p in prefixes if _under(module, (p,))]
    return max(matches)[1] if matches else None


def _is_project(module: str) -> bool:
    return module.split(".")[0] in ("app", "pages", "explorer")


def upward_imports(imports: list[Import]) -> list[str]:
    """Each import of a module in a higher layer, as ``file:line  source (layer) -> target (layer)``."""
    found: list[tuple[str, int, str]] = []
    for i in imports:
        if not _is_project(i.target):
            continue
        source, target = layer_of(i.source), layer_of(i.target)
        assert source is not None and target is not None, f"{i.where}: {i.source} or {i.target} has no layer"
        if target < source:
            when = "" if i.when == "load" else f" ({i.when})"
            text = f"{i.where}  {i.source} ({LAYERS[source][0]}) -> {i.target} ({LAYERS[target][0]}){when}"
            found.append((i.file, i.line, text))
    return [text for *_, text in sorted(found)]


def private_imports(imports: list[Import]) -> list[str]:
    """Each ``from m import _name`` of another module's private name."""
    return [
        f"{i.where}  {i.source} takes {name} from {i.target}"
        for i in imports
        if _is_project(i.target) and i.target != i.source
        for name in i.names
        if name.startswith("_") and not name.startswith("__")
    ]


def forbidden_imports(imports: list[Import], sources: tuple[str, ...], packages: tuple[str, ...]) -> list[str]:
    """Each import of one of ``packages`` (or their submodules) by a module under one of ``sources``."""
    return [
        f"{i.where}  {i.source} imports {i.target}"
        for i in imports
        if _under(i.source, sources) and _under(i.target, packages)
    ]


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return [*stack[stack.index(target) :], target]
            if target not in state and (found := visit(target)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def _module_level_graph(imports: list[Import]) -> dict[str, set[str]]:
    """Project modules each module imports when it loads. (Python imports a module's parent
    packages first; a package that imports its own submodules, as ``explorer.families`` does to
    collect them, is not a cycle, so parents are not edges.)"""
    modules = set(project_files(ROOT))
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for i in imports:
        if i.when == "load" and i.target in modules and i.target != i.source:
            graph[i.source].add(i.target)
    return graph


# -- the rules --------------------------------------------------------------------------------


def test_every_import_points_down():
    upward = upward_imports(all_imports())
    assert not upward, "imports that point up the layers (see this file's docstring):\n" + "\n".join(upward)


def test_no_private_names_cross_modules():
    private = private_imports(all_imports())
    assert not private, "private names imported from another module:\n" + "\n".join(private)


def test_the_library_never_imports_streamlit():
    found = forbidden_imports(all_imports(), ("explorer",), ("streamlit",))
    assert not found, "the library imports Streamlit:\n" + "\n".join(found)


def test_the_pages_never_import_torch():
    found = forbidden_imports(all_imports(), ("app", "pages"), ("torch", "torchvision"))
    assert not found, "the pages import torch (they draw before torch is imported):\n" + "\n".join(found)


def test_the_views_never_import_torch():
    """Views turn plain data into words and figures: they draw from stored results too."""
    found = forbidden_imports(all_imports(), ("explorer.views",), ("torch", "torchvision"))
    assert not found, "the views import torch:\n" + "\n".join(found)


def test_every_module_has_a_layer_and_every_layer_a_module():
    modules = project_files(ROOT)
    assert [m for m in modules if layer_of(m) is None] == []
    used = {layer_of(m) for m in modules}
    assert used == set(range(len(LAYERS)))


def test_no_import_cycles():
    cycle = _cycle(_module_level_graph(all_imports()))
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


# -- the checker sees what it must ------------------------------------------------------------


def _tree(tmp_path: Path, files: dict[str, str]) -> list[Import]:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return all_imports(tmp_path)


def test_a_lazy_upward_import_is_found(tmp_path):
    imports = _tree(
        tmp_path,
        {
            "app.py": "",
            "explorer/__init__.py": "",
            "explorer/runtime/__init__.py": "",
            "explorer/runtime/shipped.py": "def load():\n    from explorer.analysis.signal import INPUT_MEAN\n",
            "explorer/analysis/__init__.py": "",
            "explorer/analysis/signal.py": "INPUT_MEAN = 0.5\n",
            "explorer/analysis/saliency.py": "from ..runtime import shipped\nfrom . import signal\n",
        },
    )
    assert upward_imports(imports) == [
        "explorer/runtime/shipped.py:2  explorer.runtime.shipped (runtime)"
        " -> explorer.analysis.signal (analysis) (lazy)"
    ]
    relative = [i.target for i in imports if i.source == "explorer.analysis.saliency"]
    assert relative == ["explorer.runtime.shipped", "explorer.analysis.signal"]


def test_type_checking_and_private_and_forbidden_imports_are_found(tmp_path):
    imports = _tree(
        tmp_path,
        {
            "app.py": "",
            "pages/build.py": "import torch\n",
            "explorer/__init__.py": "",
            "explorer/knobs.py": "import typing\nif typing.TYPE_CHECKING:\n    from explorer.config import X\n",
            "explorer/config.py": "import streamlit as st\nfrom explorer.knobs import _helper, __all__\n",
        },
    )
    assert upward_imports(imports) == [
        "explorer/knobs.py:3  explorer.knobs (knobs) -> explorer.config (the language) (typing)"
    ]
    assert private_imports(imports) == ["explorer/config.py:2  explorer.config takes _helper from explorer.knobs"]
    assert forbidden_imports(imports, ("explorer",), ("streamlit",)) == [
        "explorer/config.py:1  explorer.config imports streamlit"
    ]
    assert forbidden_imports(imports, ("app", "pages"), ("torch",)) == ["pages/build.py:1  pages.build imports torch"]


def test_a_cycle_is_found():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


# -- what the first page and the CLI pay for --------------------------------------------------


@pytest.mark.parametrize("module", ["explorer.knobs", "explorer.config", "explorer.families", "explorer.cli.profile"])
def test_the_core_imports_without_streamlit_captum_plotly_or_pandas(module):
    heavy = ("streamlit", "captum", "plotly", "pandas")
    code = f"import sys, {module}; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


FIRST_PAGE = """
import sys
from explorer.config import parse_query
from explorer.families import PRESETS
from explorer.controls import controls_for
from explorer.compound import Multipliers
for name in PRESETS:
    config = parse_query(f"preset={name}")
    controls_for(config)
    config.scale_knobs(Multipliers())  # every config says how it scales, torch or not
import explorer.analysis.stored, explorer.views.profile, explorer.views.tables, explorer.views.memory
import pages._shared.architecture, pages._shared.caches, pages._shared.memory, pages._shared.device
import pages._shared.state, pages._shared.composer
from explorer.analysis.stored import stored_profile
assert stored_profile(parse_query("preset=resnet18").query).params == 11_689_512
print(sorted(m for m in ("torch", "torchvision") if m in sys.modules))
"""


def test_the_first_page_needs_no_torch():
    """Parsing every preset, its sliders, its stored profile and the Build page's modules import no
    torch: the app's first page draws before torch (about 3 s of one core) is imported."""
    done = subprocess.run([sys.executable, "-c", FIRST_PAGE], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_families_are_complete_on_import():
    """``FAMILIES`` and ``PRESETS`` are whole as soon as they can be imported, in the order offered,
    without a parse first and without importing the parser."""
    code = (
        "import sys; from explorer.families import FAMILIES, PRESETS; "
        "print(len(FAMILIES), len(PRESETS), next(iter(FAMILIES)), 'explorer.config' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["12", "51", "resnet", "False"]
