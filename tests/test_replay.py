"""Histories recorded by earlier code replay on the current workflows (no non-determinism)."""

from pathlib import Path

from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from coach_sessions.temporal import DATA_CONVERTER
from workflows.session import SessionWorkflow

HISTORIES = Path(__file__).parent / "fixtures" / "histories"


async def test_a_session_run_before_the_pre_session_brief_replays() -> None:
    """Recorded with the code before the brief (start, reschedule, pending by timer, complete):
    the brief's timer and activities are behind ``workflow.patched("pre-session-brief")``."""
    history = WorkflowHistory.from_json("session-before-brief", (HISTORIES / "session_before_brief.json").read_text())
    result = await Replayer(workflows=[SessionWorkflow], data_converter=DATA_CONVERTER).replay_workflow(history)
    assert result.replay_failure is None
