"""EnrollmentWorkflow: creates an enrollment's numbered sessions and starts one SessionWorkflow each."""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from activities.enrollment import EnrollmentActivities
    from coach_sessions.temporal import session_workflow_id
    from workflows.inputs import (
        CreateSessionsInput,
        EnrollmentWorkflowInput,
        EnrollmentWorkflowResult,
        SessionWorkflowInput,
    )
    from workflows.session import SessionWorkflow


@workflow.defn
class EnrollmentWorkflow:
    @workflow.run
    async def run(self, request: EnrollmentWorkflowInput) -> EnrollmentWorkflowResult:
        session_ids = await workflow.execute_activity_method(
            EnrollmentActivities.create_sessions,
            CreateSessionsInput(enrollment_id=request.enrollment_id, now=workflow.now()),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=500), maximum_attempts=10),
        )
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
