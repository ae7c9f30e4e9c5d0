"""A worker interceptor that keeps ``retrying_activities`` (migration 0021) for the ops queue: an activity
that has failed ``listed_after`` attempts is written there (its error's type name only), and removed
when an attempt succeeds. Best effort: a database that cannot be reached changes nothing here."""

import logging
from typing import Any

import asyncpg
from temporalio import activity
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

from coach_sessions.repositories.retrying_activities import RetryingActivityRepository

log = logging.getLogger("coach_sessions.worker")
LISTED_AFTER = 3  # failed attempts


class RetryingActivitiesInterceptor(Interceptor):
    def __init__(self, repository: RetryingActivityRepository, listed_after: int = LISTED_AFTER) -> None:
        self._repository = repository
        self._listed_after = listed_after

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _Inbound(next, self._repository, self._listed_after)


class _Inbound(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, repository: RetryingActivityRepository, after: int) -> None:
        super().__init__(next)
        self._repository = repository
        self._after = after

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = activity.info()
        try:
            result = await super().execute_activity(input)
        except Exception as error:
            if info.attempt >= self._after and info.workflow_id:
                await _quietly(
                    self._repository.failed(
                        info.workflow_id, info.activity_id, info.activity_type, info.attempt, type(error).__name__
                    )
                )
            raise
        if info.attempt > self._after and info.workflow_id:  # it was listed: it is not stuck any more
            await _quietly(self._repository.succeeded(info.workflow_id, info.activity_id))
        return result


async def _quietly(call: Any) -> None:
    try:
        await call
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
        log.warning("retrying activities not recorded", extra={"error": type(error).__name__})
