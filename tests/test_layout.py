"""The layout's rules (docs/architecture.md), checked on the source itself.

Each test reads the code with :mod:`ast` — no import is executed — so a rule broken
by a new module fails here with the module and the line that broke it.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("events", "workflows", "workers")


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    line: int

    def __str__(self) -> str:
        return f"{self.importer}:{self.line} imports {self.imported}"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def _sources() -> dict[str, ast.Module]:
    return {
        _module_name(path): ast.parse(path.read_text(), str(path))
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
    }


def _imports() -> Iterator[Import]:
    """Every import of a project module, at module level or inside a function."""
    modules = _sources()
    for importer, tree in modules.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                # `from package import module` imports the module; otherwise the package.
                names = [
                    f"{node.module}.{alias.name}"
                    if f"{node.module}.{alias.name}" in modules
                    else node.module
                    for alias in node.names
                ]
            else:
                continue
            for name in names:
                if name.split(".")[0] in PACKAGES:
                    yield Import(importer, name, node.lineno)


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_no_import_circle() -> None:
    graph: dict[str, set[str]] = {}
    for found in _imports():
        if found.imported != found.importer:
            graph.setdefault(found.importer, set()).add(found.imported)
    circles = [c for c in _strongly_connected(graph) if len(c) > 1]
    assert circles == [], f"import circles: {circles}"


def test_dependencies_point_from_workers_to_workflows_to_events() -> None:
    wrong = [
        str(found)
        for found in _imports()
        if (_within(found.importer, "events") and not _within(found.imported, "events"))
        or (_within(found.importer, "workflows") and _within(found.imported, "workers"))
    ]
    assert wrong == []


def test_the_doors_do_not_import_each_other() -> None:
    """Only the doors themselves and the processes that run them import a door.

    The API and the console depend on ``workers.hub``; the console may share the API's
    problem documents, and the process that serves both assembles them.
    """
    doors = ("workers.api", "workers.console")
    wrong = []
    for found in _imports():
        door = next((d for d in doors if _within(found.imported, d)), None)
        if door is None or _within(found.importer, door):
            continue
        if _within(found.importer, "workers.processes"):
            continue
        if _within(found.importer, "workers.console") and found.imported == "workers.api.problems":
            continue
        wrong.append(str(found))
    assert wrong == []


def test_only_the_postgres_store_imports_the_database_driver() -> None:
    """Besides the store, only the local stack, which creates and probes the server itself."""
    importers = {
        importer
        for importer, tree in _sources().items()
        for node in ast.walk(tree)
        if (isinstance(node, ast.Import) and any(a.name == "asyncpg" for a in node.names))
        or (isinstance(node, ast.ImportFrom) and (node.module or "").startswith("asyncpg"))
    }
    assert {m for m in importers if not _within(m, "workers.stack")} == {"events.postgres"}


# A read model is a table the projector writes: ``share_request_view``, ``queue``…
_READ_MODEL_TABLE = re.compile(r"\b(FROM|JOIN|INTO|UPDATE)\s+(\w*_view|checkpoints)\b", re.I)


def test_read_model_sql_lives_in_read_models() -> None:
    wrong = [
        f"{module}:{node.lineno}"
        for module, tree in _sources().items()
        if not _within(module, "events.read_models") and module != "events.postgres"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and _READ_MODEL_TABLE.search(node.value)
        and "_view" in node.value
    ]
    assert wrong == []


def test_stream_and_subject_names_are_declared_once() -> None:
    from workers.bus import streams

    names = {
        value
        for value in vars(streams).values()
        if isinstance(value, str) and re.fullmatch(r"SHAREHUB_[A-Z_]+", value)
    }
    assert names, "workers.bus.streams declares the streams"
    wrong = [
        f"{module}:{node.lineno} {node.value!r}"
        for module, tree in _sources().items()
        if _within(module, "workers") and module != "workers.bus.streams"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and (node.value in names or node.value.startswith("sharehub."))
    ]
    assert wrong == []


def _strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iteratively: the graph's strongly connected components."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    counter = 0
    for start in list(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = counter
                    counter += 1
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(graph.get(successor, ())))))
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    components.append(sorted(component))
    return components
