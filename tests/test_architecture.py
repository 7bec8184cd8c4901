"""The house rules of pytest_invstab, enforced (see CONTRIBUTING.md).

* every module imports on its own, in a fresh interpreter;
* only the pytest layer (plugin, fixtures, markers, runner) imports pytest;
* no module over 400 lines; no function in checks/ or attacks over 80 lines;
* no import circle between the package's modules.

The source checks read the files with ``ast`` (no import needed); the import checks run in a
child interpreter.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = "pytest_invstab"
ROOT = Path(__file__).resolve().parents[1] / PACKAGE
# The only modules that may import pytest: hooks, fixtures, the markers and the shared
# run-a-check-inside-a-test helpers. Everything else is plain PyTorch.
PYTEST_LAYER = {f"{PACKAGE}.{m}" for m in ("plugin", "fixtures", "markers", "runner")}
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 80
# Functions are kept short where the logic lives: the checks and the searches.
SHORT_FUNCTION_PARTS = ("checks", "attacks")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES: dict[str, Path] = {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}
PACKAGES = {name for name, p in MODULES.items() if p.name == "__init__.py"}


def _tree(name: str) -> ast.Module:
    return ast.parse(MODULES[name].read_text(encoding="utf-8"), filename=str(MODULES[name]))


# -- import graph ---------------------------------------------------------------------------------
def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _import_nodes(tree: ast.Module, *, module_level: bool) -> list[ast.Import | ast.ImportFrom]:
    """Import statements that run: at module level (``module_level``: class bodies, ``if`` and ``try``
    included, function bodies not) or anywhere; ``if TYPE_CHECKING:`` blocks never run."""
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                found.append(node)
            elif isinstance(node, ast.If) and _is_type_checking(node):
                visit(node.orelse)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)) and module_level:
                continue
            else:
                for field in ("body", "orelse", "finalbody", "handlers"):
                    visit([n for n in getattr(node, field, []) if isinstance(n, ast.AST)])
                for case in getattr(node, "cases", []):  # match statements
                    visit(case.body)

    visit(tree.body)
    return found


def _resolve(importer: str, node: ast.Import | ast.ImportFrom) -> set[str]:
    """The modules of the package that ``node`` (in module ``importer``) imports, with the package
    ``__init__``s that the import runs (all but those ``importer`` itself lives in)."""
    targets: set[str] = set()
    if isinstance(node, ast.Import):
        targets = {alias.name for alias in node.names}
    else:
        if node.level:
            base = importer.split(".") if importer in PACKAGES else importer.split(".")[:-1]
            base = base[: len(base) - (node.level - 1)]
            source = ".".join(base + ([node.module] if node.module else []))
        else:
            source = node.module or ""
        targets = {source} | {f"{source}.{alias.name}" for alias in node.names}
    own_packages = {".".join(importer.split(".")[:i]) for i in range(1, importer.count(".") + 2)}
    edges: set[str] = set()
    for target in targets:
        parts = target.split(".")
        for i in range(1, len(parts) + 1):
            name = ".".join(parts[:i])
            if name in MODULES and name not in own_packages and name != importer:
                edges.add(name)
    return edges


def import_graph(*, module_level: bool = True) -> dict[str, set[str]]:
    """``{module: modules of the package it imports}`` from the source (no import needed)."""
    return {name: set().union(*[_resolve(name, n) for n in _import_nodes(_tree(name), module_level=module_level)])
            for name in MODULES}


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return cycles


def test_graph_helpers_see_relative_imports_and_cycles():
    """The checks below are only as good as the graph: it must resolve a relative import."""
    graph = import_graph(module_level=False)
    assert f"{PACKAGE}.runner" in graph[f"{PACKAGE}.plugin"]  # ``from .runner import ...``
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_circle_between_modules():
    cycles = find_cycles(import_graph(module_level=True))
    assert not cycles, "module-level import circles: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_pytest_layer_has_no_circle_even_with_lazy_imports():
    """plugin, fixtures, markers and runner: no circle, not even through an import inside a function."""
    graph = import_graph(module_level=False)
    layer = {m: graph[m] & PYTEST_LAYER for m in PYTEST_LAYER if m in graph}
    assert not find_cycles(layer)
    assert f"{PACKAGE}.plugin" not in graph[f"{PACKAGE}.fixtures"]


# -- pytest stays in its layer -----------------------------------------------------------------------
def _imports_pytest(tree: ast.Module) -> list[str]:
    found = []
    for node in _import_nodes(tree, module_level=False):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
        if isinstance(node, ast.ImportFrom) and node.level:
            continue
        found += [f"line {node.lineno}: {n}" for n in names if n.split(".")[0] in ("pytest", "_pytest")]
    return found


def test_only_the_pytest_layer_imports_pytest_in_its_source():
    offenders = {name: _imports_pytest(_tree(name)) for name in MODULES if name not in PYTEST_LAYER}
    offenders = {k: v for k, v in offenders.items() if v}
    assert not offenders, f"modules below plugin/fixtures that import pytest: {offenders}"


def test_the_pytest_layer_is_known():
    """A renamed pytest-layer module must be renamed here too (or the check above loses it)."""
    assert PYTEST_LAYER <= set(MODULES)


# -- every module imports on its own ---------------------------------------------------------------
# A child interpreter that imports only numpy and torch (third-party, slow to import, not
# what is tested here) and then, per module, forks a copy of itself that imports that one
# module: each module starts from an interpreter with no module of the package loaded. Where
# fork is not available, one interpreter per module (slower, same answer).
_IMPORT_EACH = r"""
import importlib, json, os, sys, traceback

names = json.loads(sys.argv[1])

def attempt(name):
    try:
        importlib.import_module(name)
    except BaseException:
        return {"error": traceback.format_exc(limit=-3)}
    return {"pytest": sorted(m for m in sys.modules if m.split(".")[0] in ("pytest", "_pytest"))[:3]}

if len(names) == 1 or not hasattr(os, "fork"):
    print(json.dumps({n: attempt(n) for n in names}))
    raise SystemExit(0)
for lib in ("numpy", "torch"):
    importlib.import_module(lib)
assert not any(m.startswith("pytest_invstab") for m in sys.modules)
out = {}
for name in names:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        with os.fdopen(write, "w") as f:
            f.write(json.dumps(attempt(name)))
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as f:
        text = f.read()
    os.waitpid(pid, 0)
    out[name] = json.loads(text) if text else {"error": "the child died"}
print(json.dumps(out))
"""


def _import_each(names: list[str]) -> dict[str, dict]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT.parent), os.environ.get("PYTHONPATH", "")]),
               OMP_NUM_THREADS="1")
    if hasattr(os, "fork"):
        runs = [names]
    else:  # pragma: no cover - Windows: one fresh interpreter per module
        runs = [[n] for n in names]
    results: dict[str, dict] = {}
    for run in runs:
        proc = subprocess.run([sys.executable, "-c", _IMPORT_EACH, json.dumps(run)], capture_output=True,
                              text=True, env=env, timeout=300, cwd=ROOT.parent)
        assert proc.returncode == 0, proc.stderr[-3000:]
        results.update(json.loads(proc.stdout.strip().splitlines()[-1]))
    return results


@pytest.fixture(scope="module")
def imported_alone() -> dict[str, dict]:
    return _import_each(sorted(MODULES))


def test_every_module_imports_on_its_own(imported_alone):
    failed = {name: r["error"] for name, r in imported_alone.items() if "error" in r}
    assert not failed, "modules that fail to import alone:\n" + "\n".join(f"{k}:\n{v}" for k, v in failed.items())
    assert set(imported_alone) == set(MODULES)


def test_no_module_below_the_pytest_layer_imports_pytest_when_imported(imported_alone):
    """Also catches pytest pulled in through another library (the ast check sees only our imports)."""
    pulled = {name: r["pytest"] for name, r in imported_alone.items()
              if name not in PYTEST_LAYER and r.get("pytest")}
    assert not pulled, f"importing these alone loads pytest: {pulled}"
    assert imported_alone[f"{PACKAGE}.plugin"].get("pytest"), "the check would not see pytest if it were loaded"


# -- sizes -------------------------------------------------------------------------------------------
def test_no_module_over_400_lines():
    long = {name: n for name, p in MODULES.items()
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES}
    assert not long, f"modules over {MAX_MODULE_LINES} lines (split them by job): {long}"


def _in_short_function_part(name: str) -> bool:
    parts = name.split(".")
    return len(parts) > 1 and parts[1] in SHORT_FUNCTION_PARTS


def test_no_function_in_checks_or_attacks_over_80_lines():
    names = [n for n in MODULES if _in_short_function_part(n)]
    assert any(n.split(".")[1] == "checks" for n in names) and any(n.split(".")[1] == "attacks" for n in names)
    long = {}
    for name in names:
        for node in ast.walk(_tree(name)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    long[f"{name}.{node.name} (line {node.lineno})"] = length
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines (make them a pipeline of steps): {long}"


# -- markers live once ---------------------------------------------------------------------------------
def test_markers_are_defined_once_in_markers_py():
    """``pytest.mark.<check marker>`` is spelled in markers.py only; the package re-exports it lazily."""
    defining = set()
    for name in MODULES:
        for node in ast.walk(_tree(name)):
            if (isinstance(node, ast.Attribute) and node.attr in ("stability", "detail_recovery", "more_samples")
                    and isinstance(node.value, ast.Attribute) and node.value.attr == "mark"):
                defining.add(name)
    assert defining == {f"{PACKAGE}.markers"}

    import pytest_invstab
    import pytest_invstab.markers

    assert pytest_invstab.stability is pytest_invstab.markers.stability
    assert pytest_invstab.more_samples.name == "more_samples"
