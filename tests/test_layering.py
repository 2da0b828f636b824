"""The shape of the code: ``core`` never reaches the GUI, its modules import each other without a
circle, and each model family's name is spelled in one module only (its config), so everything
else goes through :mod:`core.models.registry`.

Imports are read from the source (every ``import`` statement, those inside functions too, and
module names given to ``importlib`` as strings), not from what happens to be loaded."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GUI_PACKAGES = ("PySide6", "PyQt5", "PyQt6", "pyqtgraph", "shiboken6", "viewer")


def modules(package: str) -> dict[str, Path]:
    """Dotted module name -> file, for every module of ``package`` (a folder under the root)."""
    found = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def imported_names(path: Path) -> set[str]:
    """Every module name the file imports, at any depth, plus dotted strings that look like modules
    (imports under ``if TYPE_CHECKING:`` never run, so they are left out)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            node.body = []
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and _looks_like_module(node.value):
            names.add(node.value.split(":")[0])
    return names


def _looks_like_module(text: str) -> bool:
    head = text.split(":")[0]
    return head.split(".")[0] in ("core", "viewer", *GUI_PACKAGES) and all(p.isidentifier() for p in head.split("."))


def core_graph() -> dict[str, set[str]]:
    """``core`` module -> the ``core`` modules it imports (a name is resolved to the longest module it names)."""
    known = modules("core")
    graph: dict[str, set[str]] = {}
    for name, path in known.items():
        edges = set()
        for imported in imported_names(path):
            parts = imported.split(".")
            for cut in range(len(parts), 0, -1):
                target = ".".join(parts[:cut])
                if target in known:
                    if target != name:
                        edges.add(target)
                    break
        graph[name] = edges
    return graph


def import_circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in graph.get(node, ()):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                circles.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return circles


def test_core_never_imports_the_gui():
    offenders = sorted(
        f"{name} imports {imported}"
        for name, path in modules("core").items()
        for imported in imported_names(path)
        if imported.split(".")[0] in GUI_PACKAGES
    )
    assert offenders == []


def test_no_import_circle_among_core_modules():
    assert import_circles(core_graph()) == []


def test_the_circle_finder_finds_circles():
    """The check above can fail: a made-up graph with a circle of three and a self-contained tail."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set()}
    assert import_circles(graph) == [["a", "b", "c"]]
    assert import_circles({"a": {"b"}, "b": set()}) == []


def string_constants(path: Path) -> list[tuple[int, str]]:
    """String constants of a file that are not docstrings: (line, value)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                docstrings.add(id(first.value))
    return [(n.lineno, n.value) for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docstrings]


# A string equal to a family name that is not about the family: the benchmark of representation
# flow against the ConvNet pipeline is called "repflow" on the command line.
NOT_A_SWITCH = {("core/commands/bench.py", "repflow")}


@pytest.mark.parametrize("package", ["core", "viewer"])
def test_each_family_name_is_spelled_in_one_module(package):
    """No switch on a family's name outside the family: the name string appears only in its config
    module (``FAMILY_... = "name"``), which its config and its registry record read."""
    from core.models import registry

    owners = {record.name: modules("core")[record.config_class.__module__] for record in registry.families()}
    files = list(modules(package).values()) + ([ROOT / "main.py"] if package == "core" else [])
    found = sorted(
        f"{path.relative_to(ROOT)}:{line}: {value!r}"
        for path in files
        for line, value in string_constants(path)
        if value in owners and path != owners[value] and (str(path.relative_to(ROOT)), value) not in NOT_A_SWITCH
    )
    assert found == []


def test_no_family_package_imports_another():
    """Families share through ``core.models.shared``, never through each other's internals."""
    from core.models import registry

    packages = sorted({record.config_class.__module__.rsplit(".", 1)[0] for record in registry.families()})
    graph = core_graph()
    crossings = sorted(
        f"{module} imports {target}"
        for module, targets in graph.items()
        for target in targets
        for mine in packages
        if module.startswith(mine + ".") or module == mine
        for other in packages
        if other != mine and (target == other or target.startswith(other + "."))
    )
    assert len(packages) >= 3 and crossings == []
