"""The package's import graph, read from the source (no import): one direction, no cycle.

The layers, bottom to top (``../shared/ARCHITECTURE.md``: verdicts pure, API calls at the edges):
the package root and its base modules; ``platform/`` (Composer facts); ``kube/`` and ``pod/``;
the stages ``preflight/`` and ``lifecycle/``; ``hooks/`` and ``tools/``; ``triggers/``;
``operators/``; then what Airflow and the console load first. A module may import its own layer or
any below it, at module level or inside a function; imports under ``if TYPE_CHECKING:`` are for
the type checker only and do not count.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = "airflow_provider_composer_kpo"
SOURCE = Path(__file__).resolve().parents[2] / PACKAGE

LAYERS = (
    {"", "compat", "exceptions", "choices", "verdicts", "findings"},
    {"platform"},
    {"kube", "pod"},
    {"preflight", "lifecycle"},
    {"hooks", "tools"},
    {"triggers"},
    {"operators"},
    {"get_provider_info", "__main__"},
)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SOURCE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> int:
    top = module[len(PACKAGE) + 1 :].split(".")[0] if module != PACKAGE else ""
    return next(rank for rank, names in enumerate(LAYERS) if top in names)


@dataclass(frozen=True)
class Import:
    """One import statement run at run time (not under ``if TYPE_CHECKING:``)."""

    modules: frozenset[str]  # what it loads: each name's module if it is one, else the module named
    relative: bool
    in_function: bool


def run_time_imports(path: Path) -> list[Import]:
    """The import statements of ``path`` that run (its own package resolved for relative imports)."""
    tree = ast.parse(path.read_text())
    typing_only = {
        id(node)
        for branch in ast.walk(tree)
        if isinstance(branch, ast.If) and "TYPE_CHECKING" in ast.dump(branch.test)
        for node in ast.walk(branch)
    }
    in_function = {
        id(node)
        for function in ast.walk(tree)
        if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef))
        for node in ast.walk(function)
    }
    here = module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            submodules = (f"{target}.{alias.name}" for alias in node.names)
            modules = {name if is_module_file(name) else target for name in submodules}
        elif isinstance(node, ast.Import):
            modules = {alias.name for alias in node.names}
        else:
            continue
        found.append(Import(frozenset(modules), bool(getattr(node, "level", 0)), id(node) in in_function))
    return found


def is_module_file(name: str) -> bool:
    return (SOURCE.parent / name.replace(".", "/")).with_suffix(".py").is_file()


def imports(path: Path) -> set[str]:
    """The package's modules ``path`` imports at run time."""
    found = set().union(*(imp.modules for imp in run_time_imports(path)))
    return {name for name in found if name == PACKAGE or name.startswith(PACKAGE + ".")} - {module_name(path)}


GRAPH = {module_name(path): imports(path) for path in sorted(SOURCE.rglob("*.py"))}


def test_every_module_has_a_layer():
    known = set().union(*LAYERS)
    tops = {module[len(PACKAGE) + 1 :].split(".")[0] if module != PACKAGE else "" for module in GRAPH}
    assert tops - known == set(), "add the new module or subpackage to LAYERS"


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_no_upward_import(module):
    upward = sorted(target for target in GRAPH[module] if layer(target) > layer(module))
    assert upward == [], f"{module} (layer {layer(module)}) imports from above it: {upward}"


def test_no_import_cycle():
    """Depth-first search over every module's run-time imports."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        path.append(module)
        for target in sorted(GRAPH.get(module, ())):
            if state.get(target) == 1:
                cycle = [*path[path.index(target) :], target]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target)
        path.pop()
        state[module] = 2

    for module in sorted(GRAPH):
        if module not in state:
            visit(module)


def test_the_graph_is_read():
    """The reader sees the imports it must judge (a guard against a reader that finds nothing)."""
    operator = GRAPH[f"{PACKAGE}.operators.composer_pod"]
    assert f"{PACKAGE}.lifecycle.follow" in operator and f"{PACKAGE}.operators.arguments" in operator
    assert GRAPH[f"{PACKAGE}.platform.peer_vm"] == {f"{PACKAGE}.verdicts"}


# --- the policy core: no Airflow -------------------------------------------------------------------

#: The rules and the values they return, which `composer-kpo` (no Airflow installed, or not imported)
#: shares with the operator: they return what is wrong; ``operators/arguments.py`` raises and warns.
POLICY_CORE = sorted(
    module
    for module in GRAPH
    if module in (f"{PACKAGE}.choices", f"{PACKAGE}.verdicts", f"{PACKAGE}.findings")
    or module.startswith((f"{PACKAGE}.pod.", f"{PACKAGE}.platform."))
)


def lazy_and_outside_imports(path: Path) -> tuple[set[str], set[str]]:
    """The modules ``path`` imports inside a function, and the top-level packages outside this one
    it imports anywhere; both at run time."""
    found = run_time_imports(path)
    lazy = set().union(*(imp.modules for imp in found if imp.in_function))
    outside = {name.split(".")[0] for imp in found if not imp.relative for name in imp.modules} - {PACKAGE}
    return lazy, outside


PATHS = {module_name(path): path for path in sorted(SOURCE.rglob("*.py"))}


def loaded_with(module: str) -> set[str]:
    """The package's modules importing ``module`` loads: its imports (in functions too) and parent packages,
    transitively."""
    seen, todo = set(), [module]
    while todo:
        current = todo.pop()
        if current in seen or current not in GRAPH:
            continue
        seen.add(current)
        parents = [current.rsplit(".", depth)[0] for depth in range(1, current.count(".") + 1)]
        todo += [*GRAPH[current], *parents]
    return seen


@pytest.mark.parametrize("module", POLICY_CORE)
def test_the_policy_core_imports_no_airflow(module):
    airflow = sorted(m for m in loaded_with(module) if "airflow" in lazy_and_outside_imports(PATHS[m])[1])
    assert airflow == [], f"{module} loads Airflow, at module level or in a function, through {airflow}"


def test_the_policy_core_is_read():
    """The core holds every rule module, and the reader sees an Airflow import where there is one."""
    assert {f"{PACKAGE}.choices", f"{PACKAGE}.pod.entrypoint", f"{PACKAGE}.pod.finish_action"} <= set(POLICY_CORE)
    assert f"{PACKAGE}.platform.rules" in POLICY_CORE
    assert "airflow" in lazy_and_outside_imports(PATHS[f"{PACKAGE}.compat"])[1]
    assert f"{PACKAGE}.compat" in loaded_with(f"{PACKAGE}.operators.arguments")
    lazy = lazy_and_outside_imports(PATHS[f"{PACKAGE}.triggers.composer_pod"])[0]
    assert f"{PACKAGE}.hooks.composer_kubernetes" in lazy


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_no_function_imports_exceptions_or_compat(module):
    """Importing them in a function, to keep a module free of Airflow, hides the dependency: return the
    problem instead and let the caller (``operators/``, ``hooks/``, ``triggers/``) raise or warn."""
    lazy = lazy_and_outside_imports(PATHS[module])[0]
    found = sorted(lazy & {f"{PACKAGE}.exceptions", f"{PACKAGE}.compat"})
    assert found == [], f"{module} imports {found} inside a function"
