"""EnrollmentWorkflow: creates an enrollment's numbered sessions and starts one SessionWorkflow each."""

import asyncio
from uuid import UUID

from temporalio import workflow
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from coach_sessions.contracts import (
        EnrollmentWorkflowInput,
        EnrollmentWorkflowResult,
        SessionWorkflowInput,
    )
    from coach_sessions.temporal import session_workflow_id
    from workflows import patches, steps
    from workflows.session import SessionWorkflow


@workflow.defn
class EnrollmentWorkflow:
    @workflow.run
    async def run(self, request: EnrollmentWorkflowInput) -> EnrollmentWorkflowResult:
        session_ids = await steps.create_sessions(request.enrollment_id)
        numbered = list(enumerate(session_ids, start=1))
        if workflow.patched(patches.START_SESSIONS_TOGETHER):
            # gather starts its coroutines in order: the commands are issued in session order.
            await asyncio.gather(*(_start_session(number, session_id) for number, session_id in numbered))
        else:
            for number, session_id in numbered:
                await _start_session(number, session_id)
        return EnrollmentWorkflowResult(enrollment_id=request.enrollment_id, session_ids=session_ids)


async def _start_session(number: int, session_id: UUID) -> None:
    try:
        # ABANDON: each session lives on (for weeks) after the enrollment workflow is done.
        await workflow.start_child_workflow(
            SessionWorkflow.run,
            SessionWorkflowInput(session_id=session_id),
            id=session_workflow_id(session_id),
            parent_close_policy=ParentClosePolicy.ABANDON,
            # A finished session (resolved) must not be started again.
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            static_summary=f"session {number}",
        )
    except WorkflowAlreadyStartedError:
        pass  # already running (e.g. an action arrived first through update-with-start)
