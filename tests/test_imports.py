"""The house stays easy to walk: no import circle inside bench/ (issue 24), counting imports made
inside functions too, since those are circles all the same once the function runs."""

import ast
from pathlib import Path

from test_layers import cycles      # the one cycle finder (it also walks wpigz/ there)

ROOT = Path(__file__).resolve().parent.parent


def import_graph(package: str) -> dict[str, set[str]]:
    """{module: the modules of the same package it imports anywhere in its source}."""
    directory = ROOT / package
    modules = {path.stem for path in directory.glob("*.py")}
    graph: dict[str, set[str]] = {}
    for path in directory.glob("*.py"):
        edges: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom):
                if node.level == 1:                                   # from . import x / from .x import y
                    if node.module:
                        edges.add(node.module.split(".")[0])
                    else:
                        edges.update(alias.name for alias in node.names)
                elif node.level == 0 and node.module and node.module.split(".")[0] == package:
                    parts = node.module.split(".")
                    if len(parts) > 1:
                        edges.add(parts[1])
                    else:
                        edges.update(alias.name for alias in node.names)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    parts = alias.name.split(".")
                    if parts[0] == package and len(parts) > 1:
                        edges.add(parts[1])
        graph[path.stem] = (edges & modules) - {path.stem}
    return graph


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [
        ["a", "b", "c", "a"], ["b", "c", "a", "b"], ["c", "a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_bench_has_no_import_circle():
    graph = import_graph("bench")
    assert "suite" in graph and "engines" in graph["suite"]       # the graph is really read
    assert cycles(graph) == []
