"""The import graph runs one way: api → workflows → activities → coach_sessions; none of them, nor
worker.py, imports devtools/ (development only, absent from the Docker image).

Read from the source with ``ast`` (nothing is imported), so a wrong-way import fails here with the
file and line, before it becomes a cycle or a workflow that drags I/O into its sandbox.
"""

import ast
from pathlib import Path

from tests.ast_source import parse

ROOT = Path(__file__).resolve().parent.parent

# Lower layers never import higher ones. worker.py and devtools/ wire everything together.
LAYERS = {"coach_sessions": 0, "activities": 1, "workflows": 2, "api": 3}
WORKER = "worker"  # worker.py: may import every layer, but no more devtools than they may
DEV_ONLY = "devtools/ is development-only, absent from the Docker image; its commands are python -m devtools's"

# Narrower rules on top of the layers: (importing modules, forbidden prefix, why).
FORBIDDEN = [
    ("api.routes", "workflows", "routes call service verbs; only services know Temporal"),
    ("api.routes", "temporalio", "routes call service verbs; only services know Temporal"),
    ("workflows", "coach_sessions.repositories", "workflow code does no I/O: repositories are for activities"),
    ("workflows", "asyncpg", "workflow code does no I/O"),
    ("coach_sessions.whatsapp_inbound", "coach_sessions.repositories", "the webhook parser is pure"),
    *[(application, "devtools", DEV_ONLY) for application in (*LAYERS, WORKER)],
]


def _module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[str, int]]:
    found: list[tuple[str, int]] = []
    for node in ast.walk(parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, node.lineno))
    return found


def _violations(root: Path = ROOT) -> list[str]:
    problems = []
    sources = [p for layer in LAYERS for p in (root / layer).rglob("*.py")] + [root / f"{WORKER}.py"]
    for path in sorted(p for p in sources if p.exists()):
        module = _module_name(path, root)
        own_layer = LAYERS.get(module.split(".")[0], len(LAYERS))
        for imported, line in _imports(path):
            top = imported.split(".")[0]
            where = f"{path.relative_to(root)}:{line} imports {imported}"
            if top in LAYERS and LAYERS[top] > own_layer:
                problems.append(f"{where} (a higher layer)")
            for importer, prefix, why in FORBIDDEN:
                if (module == importer or module.startswith(importer + ".")) and (
                    imported == prefix or imported.startswith(prefix + ".")
                ):
                    problems.append(f"{where} ({why})")
    return problems


def test_imports_run_downward() -> None:
    assert _violations() == []


def test_the_check_sees_a_wrong_way_import(tmp_path: Path) -> None:
    """The walker itself: an activity importing a workflow, a route importing Temporal, the core or the
    worker importing devtools (even inside a function, as the demo commands once did), are reported."""
    for layer in LAYERS:
        (tmp_path / layer).mkdir()
    (tmp_path / "activities" / "bad.py").write_text("from workflows.session import SessionWorkflow\n")
    (tmp_path / "api" / "routes").mkdir()
    (tmp_path / "api" / "routes" / "x.py").write_text("import os\nfrom temporalio.client import Client\n")
    (tmp_path / "coach_sessions" / "__main__.py").write_text(
        "def seed() -> None:\n    from devtools.demo import seed_demo\n"
    )
    (tmp_path / "worker.py").write_text("import devtools.embedded\n")
    problems = _violations(tmp_path)
    assert any("activities/bad.py:1" in p and "higher layer" in p for p in problems)
    assert any("api/routes/x.py:2" in p and "only services know Temporal" in p for p in problems)
    assert any("coach_sessions/__main__.py:2 imports devtools.demo" in p and "development-only" in p for p in problems)
    assert any("worker.py:1 imports devtools.embedded" in p and "development-only" in p for p in problems)
    assert len(problems) == 4
