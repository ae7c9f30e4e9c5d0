"""The demo seeding modules import one way: demo → demo_* → demo_data, never back (no import cycle)."""

import ast
from pathlib import Path

from tests.ast_source import parse

DEVTOOLS = Path(__file__).resolve().parent.parent / "devtools"


def _devtools_imports(module: str) -> set[str]:
    tree = parse((DEVTOOLS / f"{module}.py").read_text())
    found = set()
    for node in ast.walk(tree):  # function-level imports count too: they hide a cycle, not break it
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("devtools."):
            found.add(node.module.removeprefix("devtools."))
        elif isinstance(node, ast.Import):
            found |= {a.name.removeprefix("devtools.") for a in node.names if a.name.startswith("devtools.")}
    return found


def test_demo_modules_import_one_way() -> None:
    modules = sorted(p.stem for p in DEVTOOLS.glob("demo*.py"))
    graph = {m: _devtools_imports(m) & set(modules) for m in modules}
    assert graph["demo_data"] == set()
    assert all("demo" not in imported for module, imported in graph.items() if module != "demo")

    def reaches(start: str, target: str, seen: frozenset[str] = frozenset()) -> bool:
        return any(n == target or (n not in seen and reaches(n, target, seen | {n})) for n in graph[start])

    assert [m for m in modules if reaches(m, m)] == []  # no cycle of any length
