"""The retention purge as an activity: idempotent (a purged row is not purged again), so retries are safe."""

from temporalio import activity

from coach_sessions.contracts import RetentionInput, RetentionPurged
from coach_sessions.repositories.retention import RetentionRepository


class RetentionActivities:
    def __init__(self, retention: RetentionRepository) -> None:
        self._retention = retention

    @activity.defn
    async def purge_expired_personal_data(self, request: RetentionInput) -> RetentionPurged:
        return await self._retention.purge(request.keep_for)
