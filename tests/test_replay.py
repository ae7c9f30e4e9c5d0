"""Every saved history replays against today's workflow code (Temporal's Replayer, no server).

Session workflows live for weeks: a change in ``workflows/`` that would send a running workflow down
another path fails here (a non-determinism error), not in production. The histories are recorded by
``tests/record_histories.py`` (``make histories``); see docs/reliability.md, "Changing workflow code".
"""

import json
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from tests.helpers import TEST_MASTER_CONVERTER
from worker import WORKFLOWS

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))
EXPECTED_KINDS = {"enrollment", "session", "consent", "outbox", "retention", "erasure", "reassignment"}


def test_there_are_histories_of_every_workflow_type() -> None:
    kinds = {path.name.split(".")[-2] for path in HISTORIES}
    assert kinds == EXPECTED_KINDS
    assert len(HISTORIES) >= 17


@pytest.mark.parametrize("path", HISTORIES, ids=[p.name.removesuffix(".json") for p in HISTORIES])
async def test_saved_history_replays(path: Path) -> None:
    history = WorkflowHistory.from_json(path.stem, json.loads(path.read_text()))  # noqa: ASYNC240 - a small test file
    replayer = Replayer(workflows=WORKFLOWS, data_converter=TEST_MASTER_CONVERTER)
    result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
    assert result.replay_failure is None, f"{path.name}: {result.replay_failure!r}"
