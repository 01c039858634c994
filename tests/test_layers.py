"""The package's plan holds (issue 26): each layer imports only the layers below it, and nothing in
wpigz/ or bench/ imports in a circle. Imports made inside functions count too: once the function
runs, they are dependencies all the same.

wpigz's layers, bottom to top (each folder's __init__.py says what it holds):
  0  wpigz._record             the dataclass stand-in every layer uses
  1  wpigz.sandbox             the runtime binding, wasi-threads, the host, the engines table
  2  wpigz.encode              the block pipeline and the framing
  3  wpigz.decode              format detection, the sequential decoder, indexed members, ...
  4  wpigz.command             the wpigz program
  5  the top                   wpigz itself, __main__, api (the library), web, the integrations
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYERS = {"_record": 0, "sandbox": 1, "encode": 2, "decode": 3, "command": 4}
TOP = 5


def modules(package: str) -> dict[str, Path]:
    """{dotted module name: its file} for every module of package (a folder of ROOT)."""
    found = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        if ROOT / package / "out" in path.parents:     # bench/out: what benches leave (a copy of
            continue                                    # the stdlib for many_files), not modules
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def import_graph(package: str) -> dict[str, dict[str, set[str]]]:
    """{module: {imported module of the same package: the names imported from it}}, counting
    imports anywhere in the module's source."""
    known = modules(package)
    graph: dict[str, dict[str, set[str]]] = {}
    for name, path in known.items():
        is_package = path.name == "__init__.py"
        here = name.split(".") if is_package else name.split(".")[:-1]
        edges: dict[str, set[str]] = {}
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = here[:len(here) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                for alias in node.names:
                    full = f"{target}.{alias.name}"
                    if full in known:                       # from . import members
                        edges.setdefault(full, set())
                    elif target in known:                   # from .members import decode_members
                        edges.setdefault(target, set()).add(alias.name)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name in known:
                        edges.setdefault(alias.name, set())
        edges.pop(name, None)
        graph[name] = edges
    return graph


def layer(module: str) -> int:
    parts = module.split(".")
    return LAYERS.get(parts[1], TOP) if len(parts) > 1 else TOP


def upward(graph: dict[str, dict[str, set[str]]]) -> list[str]:
    """Every import that runs up a layer. One exception: `from .. import __version__`, a constant
    of the package itself, which Python has loaded before any module inside it."""
    found = []
    for module, edges in sorted(graph.items()):
        for target, names in sorted(edges.items()):
            if target == "wpigz" and names == {"__version__"}:
                continue
            if layer(target) > layer(module):
                found.append(f"{module} (layer {layer(module)}) imports {target} (layer {layer(target)})")
    return found


def cycles(graph: dict[str, set[str]] | dict[str, dict[str, set[str]]]) -> list[list[str]]:
    """Every module that can reach itself, with one path that shows how."""
    found = []
    for start in sorted(graph):
        stack = [(start, [start])]
        seen = set()
        while stack:
            node, path = stack.pop()
            for succ in sorted(graph.get(node, ())):
                if succ == start:
                    found.append(path + [start])
                    stack.clear()
                    break
                if succ not in seen:
                    seen.add(succ)
                    stack.append((succ, path + [succ]))
    return found


def test_the_checks_find_what_they_look_for():
    assert upward({"wpigz.sandbox.engines": {"wpigz.command.cli": set()}}) == [
        "wpigz.sandbox.engines (layer 1) imports wpigz.command.cli (layer 4)"]
    assert upward({"wpigz.decode.members": {"wpigz.encode.pipeline": {"default_threads"}}}) == []
    assert upward({"wpigz.command.cli": {"wpigz": {"__version__", "api"}}}) != []
    assert cycles({"a": {"b": set()}, "b": {"a": set()}}) == [["a", "b", "a"], ["b", "a", "b"]]


def test_every_layer_is_a_folder_that_says_what_it_holds():
    for name in LAYERS:
        if name.startswith("_"):
            continue
        doc = ast.get_docstring(ast.parse((ROOT / "wpigz" / name / "__init__.py").read_text()))
        assert doc and "import" in doc, f"wpigz/{name}/__init__.py must say what it holds and may import"


def test_no_folder_hides_a_public_name():
    """`import wpigz; wpigz.compress(...)`: the library's names come from api.py on first use
    (PEP 562), but importing a subpackage sets the package attribute of the same name, which
    would replace the function for good. So no module or folder of wpigz/ takes a public name."""
    import wpigz
    names = {path.stem for path in (ROOT / "wpigz").iterdir() if path.suffix == ".py" or path.is_dir()}
    assert names & set(wpigz.__all__) == set()


def test_wpigz_imports_only_downward():
    graph = import_graph("wpigz")
    assert "wpigz.sandbox.wasm_host" in graph["wpigz.encode.pipeline"]     # the graph is really read
    assert "wpigz.decode.members" in graph["wpigz.decode.entry"]
    assert upward(graph) == []


def test_wpigz_has_no_import_circle():
    graph = import_graph("wpigz")
    # a package's __init__ importing its own modules lazily (wpigz's PEP 562 names) is the package
    # offering them, not a dependency of theirs: leave those edges out of the circle search
    plain = {m: {t for t in edges if not t.startswith(m + ".")} for m, edges in graph.items()}
    assert cycles(plain) == []


def test_bench_sections_register_with_the_suite():
    """bench/: the suite imports the sections, each section registers itself with sections.py;
    no section imports the suite, and the shared helpers (measure, sections, corpus) import
    neither the suite nor any section."""
    graph = import_graph("bench")
    sections = {m for m, edges in graph.items() if "register" in edges.get("bench.sections", set())}
    assert {"bench.engines", "bench.speed"} <= sections                     # the graph is really read
    for module, edges in graph.items():
        if module in sections:
            assert "bench.suite" not in edges, f"{module} imports the suite"
        if module in ("bench.measure", "bench.sections", "bench.corpus"):
            assert "bench.suite" not in edges and not (set(edges) & sections), f"{module} imports upward: {edges}"
    assert cycles(graph) == []
