"""Personal data kept only for PERSONAL_DATA_RETENTION: one long-lived workflow (``personal-data-retention``)
purges, sleeps RETENTION_PURGE_EVERY, and continues as new, so its history stays a few events long.

Why a timer workflow and not a Temporal Schedule: it runs the same way on the dev server and on the
time-skipping test server (which has no Schedules), and the worker starts it idempotently at start-up
(coach_sessions/retention.py). Ops see it, its last result and its next timer in the Temporal UI.
"""

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from coach_sessions.contracts import RetentionInput
    from workflows import steps


@workflow.defn
class PersonalDataRetentionWorkflow:
    @workflow.run
    async def run(self, request: RetentionInput) -> None:
        purged = await steps.purge_expired_personal_data(request)
        workflow.logger.info("retention purge done", extra={"purged": purged.model_dump()})
        await workflow.sleep(request.every)
        workflow.continue_as_new(request)
