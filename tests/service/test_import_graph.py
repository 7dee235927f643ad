"""The import graph of ``service``: no cycles, and no import hidden inside a function to
dodge one (only the CLI imports lazily, so that ``filiera --help`` starts fast)."""

from __future__ import annotations

import ast
from pathlib import Path

import grimp

SERVICE = Path(__file__).resolve().parents[2] / "service"


def _cycles(graph: grimp.ImportGraph, modules: set[str]) -> list[list[str]]:
    """Every module that can reach itself through imports, with one such path."""
    found = []
    for module in sorted(modules):
        for imported in graph.find_modules_directly_imported_by(module):
            if imported in modules and imported != module:
                back = graph.find_shortest_chain(importer=imported, imported=module)
                if back is not None:
                    found.append([module, *back])
    return found


def test_no_import_cycles_among_service_modules() -> None:
    graph = grimp.build_graph("service", cache_dir=None)
    # A package's __init__ importing its own modules is not a cycle of ideas; ours are empty.
    modules = {m for m in graph.modules if not m.endswith("__init__")}
    assert _cycles(graph, modules) == []


def test_the_cycle_check_sees_a_cycle() -> None:
    graph = grimp.ImportGraph()
    for m in ("a", "b", "c"):
        graph.add_module(m)
    graph.add_import(importer="a", imported="b")
    graph.add_import(importer="b", imported="c")
    graph.add_import(importer="c", imported="a")
    assert _cycles(graph, {"a", "b", "c"})[0] == ["a", "b", "c", "a"]


def _local_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for fn in ast.walk(tree):
        if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
            for node in fn.body:
                for inner in ast.walk(node):
                    if isinstance(inner, ast.Import | ast.ImportFrom):
                        module = getattr(inner, "module", None) or inner.names[0].name
                        if module.split(".")[0] in ("service", "ledger", "matching",
                                                    "reports"):
                            found.append(f"{path.relative_to(SERVICE.parent)}:"
                                         f"{inner.lineno} {module}")
    return found


def test_no_function_local_imports_of_our_own_modules() -> None:
    offenders = [hit for path in sorted(SERVICE.rglob("*.py"))
                 if "cli" not in path.relative_to(SERVICE).parts[:1]
                 for hit in _local_imports(path)]
    assert offenders == []
