"""The layers' contracts (ARCHITECTURE.md, README "Architecture"), checked on the source.

Every import is counted, the lazy ones inside functions too: a lazy import is still a
dependency, only a later one.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("rag", "index", "api", "eval")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {
        _module_name(p): p
        for pkg in PACKAGES
        for p in sorted((ROOT / pkg).rglob("*.py"))
        if "__pycache__" not in p.parts
    }


MODULES = _modules()


def _resolve(name: str) -> str | None:
    """The project module an import names: the longest known prefix of the dotted name."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def imports_of(module: str) -> set[str]:
    """The project modules ``module`` imports (``from a.b import c`` counts a.b.c if it is a
    module, else a.b)."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names = [f"{base}.{a.name}" for a in node.names] + [base]
        else:
            continue
        for name in names:
            target = _resolve(name)
            if target and target != module:
                found.add(target)
    return found


GRAPH = {m: imports_of(m) for m in MODULES}


def _in(module: str, *prefixes: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def _violations(sources: tuple[str, ...], allowed, exempt: tuple[str, ...] = ()) -> list[str]:
    return sorted(
        f"{m} -> {t}"
        for m, targets in GRAPH.items()
        if _in(m, *sources) and not _in(m, *exempt)
        for t in targets
        if not allowed(t)
    )


def test_the_graph_sees_the_packages():
    assert {"rag.pipeline", "rag.types", "index.hybrid", "api.app", "eval.runner"} <= set(MODULES)
    assert "rag.types" in GRAPH["rag.pipeline"]
    assert "rag.text.mapped" in GRAPH["rag.types"]


def test_no_import_cycles():
    cycles = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(m: str) -> None:
        state[m] = 1
        path.append(m)
        for t in sorted(GRAPH[m]):
            if state.get(t) == 1:
                cycles.append(" -> ".join([*path[path.index(t) :], t]))
            elif t not in state:
                visit(t)
        path.pop()
        state[m] = 2

    for m in sorted(GRAPH):
        if m not in state:
            visit(m)
    assert cycles == []


def test_index_imports_only_the_types_and_the_text_layer_of_rag():
    bad = _violations(
        ("index",), lambda t: not _in(t, "rag", "api", "eval") or _in(t, "rag.types", "rag.text")
    )
    assert bad == []


def test_the_text_layer_is_the_bottom():
    bad = _violations(("rag.text", "rag.types"), lambda t: _in(t, "rag.text", "rag.types"))
    assert bad == []


def test_api_reaches_neither_the_index_nor_reader_internals():
    bad = _violations(("api",), lambda t: not _in(t, "index", "rag.reader", "rag.ingest", "eval"))
    assert bad == []


def test_the_service_never_imports_http_or_the_eval():
    # the CLI is the one place that starts the server (`rag serve`) and the eval (`rag eval`)
    bad = _violations(("rag", "index"), lambda t: not _in(t, "api", "eval"), exempt=("rag.cli",))
    assert bad == []


@pytest.mark.parametrize("script", sorted((ROOT / "scripts").glob("*.py")), ids=lambda p: p.name)
def test_scripts_import_the_package_not_each_other(script):
    text = script.read_text(encoding="utf-8")
    assert "sys.path" not in text
    tree = ast.parse(text)
    others = {p.stem for p in (ROOT / "scripts").glob("*.py")}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            assert node.module.split(".")[0] not in others
        if isinstance(node, ast.Import):
            assert not {a.name.split(".")[0] for a in node.names} & others


def test_a_cycle_is_found_when_there_is_one(monkeypatch):
    monkeypatch.setitem(GRAPH, "rag.types", GRAPH["rag.types"] | {"rag.pipeline"})
    with pytest.raises(AssertionError):
        test_no_import_cycles()
