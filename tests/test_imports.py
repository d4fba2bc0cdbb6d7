"""The layout has no import cycles, and the core imports no UI or heavy analysis libraries.

Cycles are found statically: the module-level imports of every module of ``explorer/`` and
``pages/_shared/`` (imports inside functions are the deliberate lazy ones and do not count) form a
graph that must be acyclic. (Python also imports each module's parent packages first; a package
that imports its own submodules, as ``explorer.families`` does to register them, is not a cycle.) Parsing
instead of importing each module in a fresh interpreter keeps this test at a fraction of a second
(importing torch a hundred times takes minutes on the CI machine).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("explorer", "pages/_shared")


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for folder in PACKAGES for p in (ROOT / folder).rglob("*.py")}


def _top_level_imports(path: Path, name: str, known: set[str]) -> set[str]:
    """Project modules ``path`` imports when it is imported (function bodies excluded)."""
    tree = ast.parse(path.read_text(), str(path))
    found: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in tree.body:
        statements = [node]
        if isinstance(node, (ast.If, ast.Try)):  # e.g. `if TYPE_CHECKING:` is skipped below
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            statements = list(ast.walk(node))
        for statement in statements:
            if isinstance(statement, ast.Import):
                found.update(alias.name for alias in statement.names)
            elif isinstance(statement, ast.ImportFrom):
                base = statement.module or ""
                if statement.level:
                    parts = package.split(".")
                    base = ".".join([*parts[: len(parts) - statement.level + 1], base])
                found.add(base)
                found.update(f"{base}.{alias.name}" for alias in statement.names)
    return {m for m in found if m in known} - {name}


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _top_level_imports(path, name, set(modules)) for name, path in modules.items()}


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


def test_the_graph_sees_the_layout():
    graph = _graph()
    assert "explorer.runtime.device" in graph["explorer.runtime.guard"]
    assert "explorer.cli.base" in graph["explorer.cli.profile"]
    assert "explorer.families" not in graph["explorer.config"]  # imported lazily, inside a function


def test_no_import_cycles():
    cycle = _cycle(_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_a_cycle_is_found():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


@pytest.mark.parametrize("module", ["explorer.config", "explorer.families", "explorer.cli.profile"])
def test_the_core_imports_without_streamlit_captum_plotly_or_pandas(module):
    heavy = ("streamlit", "captum", "plotly", "pandas")
    code = f"import sys, {module}; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


FIRST_PAGE = """
import sys
from explorer.config import PRESETS, parse_query
from explorer.controls import controls_for
from explorer.compound import Multipliers
for name in PRESETS:
    config = parse_query(f"preset={name}")
    controls_for(config)
    config.scale_knobs(Multipliers())  # every config says how it scales, torch or not
import explorer.families
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
