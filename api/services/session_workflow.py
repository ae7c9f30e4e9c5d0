"""How the API starts a session's workflow when it sends one an update (update-with-start)."""

from uuid import UUID

from temporalio.client import WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy

from coach_sessions.contracts import SessionWorkflowInput, SessionWorkflowResult
from coach_sessions.temporal import session_workflow_id
from workflows.session import SessionWorkflow


def session_workflow_start(
    session_id: UUID, task_queue: str, *, restart_finished: bool
) -> WithStartWorkflowOperation[SessionWorkflow, SessionWorkflowResult]:
    """Start the session's workflow unless it is running (then the update goes to the running one).

    ``restart_finished``: whether a workflow that has finished may run again for the session. An
    action may (the row, checked first, says the session is not finished); a brief never starts a
    second lifecycle for a session."""
    return WithStartWorkflowOperation(
        SessionWorkflow.run,
        SessionWorkflowInput(session_id=session_id),
        id=session_workflow_id(session_id),
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=(
            WorkflowIDReusePolicy.ALLOW_DUPLICATE if restart_finished else WorkflowIDReusePolicy.REJECT_DUPLICATE
        ),
    )
