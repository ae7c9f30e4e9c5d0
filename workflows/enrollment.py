"""EnrollmentWorkflow: creates an enrollment's numbered sessions and starts one SessionWorkflow each."""

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
    from workflows import steps
    from workflows.session import SessionWorkflow


@workflow.defn
class EnrollmentWorkflow:
    @workflow.run
    async def run(self, request: EnrollmentWorkflowInput) -> EnrollmentWorkflowResult:
        session_ids = await steps.create_sessions(request.enrollment_id)
        for session_id in session_ids:
            try:
                # ABANDON: each session lives on (for weeks) after the enrollment workflow is done.
                await workflow.start_child_workflow(
                    SessionWorkflow.run,
                    SessionWorkflowInput(session_id=session_id),
                    id=session_workflow_id(session_id),
                    parent_close_policy=ParentClosePolicy.ABANDON,
                    # A finished session (resolved) must not be started again.
                    id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                    static_summary=f"session {session_ids.index(session_id) + 1}",
                )
            except WorkflowAlreadyStartedError:
                pass  # already running (e.g. an action arrived first through update-with-start)
        return EnrollmentWorkflowResult(enrollment_id=request.enrollment_id, session_ids=session_ids)
