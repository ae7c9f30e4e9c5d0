"""Sampling profiles (py-spy, non-blocking) of the worker and API processes, summarised by layer."""

import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

RATE = 200  # samples a second

# Each sample is given to the first layer found walking its stack from the leaf up (where time is spent).
LAYERS = (
    ("workflow sandbox", ("workflow_sandbox",)),
    ("pydantic (validate / serialise)", ("pydantic",)),
    ("temporal data converter", ("temporalio/converter",)),
    ("temporal core bridge (protobuf, rust calls)", ("temporalio/bridge", "google/protobuf", "temporalio/api/")),
    ("temporal workflow instance", ("temporalio/worker/_workflow",)),
    ("temporal activity machinery", ("temporalio/worker/_activity",)),
    ("temporal client / service", ("temporalio/client", "temporalio/service")),
    ("asyncpg", ("asyncpg",)),
    ("logging", ("logging/", "coach_sessions/logging")),
    ("jwt (auth)", ("jwt/",)),
    ("http client (httpx, httplib2)", ("httpx", "httpcore", "httplib2", "googleapiclient")),
    ("fastapi / starlette / uvicorn", ("fastapi", "starlette", "uvicorn", "h11", "anyio")),
    ("application code", ("coach_sessions/", "/workflows/", "/activities/", "/api/", "worker.py")),
    ("asyncio event loop", ("asyncio/", "selectors")),
)


def start(pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes]:
    py_spy = Path(sys.executable).parent / "py-spy"
    argv = [str(py_spy), "record", "-p", str(pid), "-d", str(int(seconds)), "-r", str(RATE), "--nonblocking"]
    return subprocess.Popen([*argv, "-f", "raw", "-o", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def finish(proc: subprocess.Popen[bytes], out: Path, seconds: float) -> dict[str, Any]:
    try:
        _, err = proc.communicate(timeout=seconds + 30)
    except subprocess.TimeoutExpired:
        proc.kill()
        return {"error": "py-spy did not finish"}
    if not out.exists():
        return {"error": (err or b"").decode(errors="replace")[-500:]}
    return summarize_collapsed(out.read_text(), seconds=seconds)


def summarize_collapsed(text: str, *, seconds: float | None = None, top: int = 12) -> dict[str, Any]:
    """Share of busy samples per layer (leaf-most match) and the hottest functions (inclusive)."""
    layers: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in text.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count, frames = int(count_text), stack.split(";")
        total += count
        layers[_layer(frames)] += count
        for frame in set(frames):
            if not frame.startswith(("<module>", "run (", "_run (", "run_forever", "_run_once", "run_until_complete")):
                inclusive[_short(frame)] += count
    if not total:
        return {"samples": 0}
    summary: dict[str, Any] = {
        "samples": total,
        "layers_pct": {k: round(100 * v / total, 1) for k, v in layers.most_common()},
        "top_inclusive_pct": [[k, round(100 * v / total, 1)] for k, v in inclusive.most_common(top)],
    }
    if seconds:
        summary["busy_cpu_share"] = round(total / (RATE * seconds), 2)  # ≈ cores of Python time (main thread)
    return summary


def _layer(frames: list[str]) -> str:
    for frame in reversed(frames):
        for name, needles in LAYERS:
            if any(needle in frame for needle in needles):
                return name
    return "other"


def _short(frame: str) -> str:
    """``func (…/site-packages/pkg/mod.py:12)`` → ``func (pkg/mod.py)``."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    else:
        path = "/".join(path.split("/")[-2:])
    return f"{name} ({path})"
