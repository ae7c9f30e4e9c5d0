"""Brief generation for a session whose SessionWorkflow has finished (completed, missed, cancelled).

A finished workflow takes no updates, so the API runs this one instead under the id
``session-brief-<session id>`` with "use existing": concurrent requests attach to one run, one generation.
"""

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from coach_sessions.contracts import BriefWorkflowInput, SessionBrief
    from workflows import steps


@workflow.defn
class SessionBriefWorkflow:
    @workflow.run
    async def run(self, request: BriefWorkflowInput) -> SessionBrief:
        return await steps.generate_brief(request.session_id, on_demand=True)
