"""Registering coaches, parents and children; listing a coach's children; a child's export and erasure."""

from typing import Any, TypeVar
from uuid import UUID

from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy

from coach_sessions.auth import Principal
from coach_sessions.contracts import EraseChildInput
from coach_sessions.errors import ErrorCode, NotFound
from coach_sessions.models import Child, ChildErasure, Coach, Parent
from coach_sessions.repositories.child_records import ChildRecordRepository
from coach_sessions.repositories.erasures import ErasureRepository
from coach_sessions.repositories.people import PeopleRepository
from coach_sessions.temporal import child_erasure_workflow_id
from workflows.erasure import ChildErasureWorkflow

_T = TypeVar("_T")


class PeopleService:
    def __init__(
        self,
        people: PeopleRepository,
        child_records: ChildRecordRepository,
        erasures: ErasureRepository,
        temporal: Client,
        task_queue: str,
    ) -> None:
        self._people = people
        self._child_records = child_records
        self._erasures = erasures
        self._temporal = temporal
        self._task_queue = task_queue

    async def erase_child(self, requested_by: UUID, child_id: UUID) -> tuple[ChildErasure, bool]:
        """Ask for the child's erasure (by an admin, or the child's parent through a family link): its
        record and whether this call asked first (docs/security.md).

        The row is inserted once (concurrent calls: one wins); every call until it is completed
        (re)starts the workflow with "use existing", so a request whose start was lost is resumed by
        the next one, and ten concurrent calls make one workflow. A completed erasure starts nothing.
        """
        if not await self._erasures.child_exists(child_id):
            raise NotFound("child", ErrorCode.NOT_FOUND)
        erasure, created = await self._erasures.record(child_id, requested_by)
        if erasure.completed_at is None:
            await self._temporal.start_workflow(
                ChildErasureWorkflow.run,
                EraseChildInput(child_id=child_id, requested_by=erasure.requested_by),
                id=child_erasure_workflow_id(child_id),
                task_queue=self._task_queue,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            )
        return erasure, created

    async def export_child(self, child_id: UUID) -> dict[str, Any]:
        """Everything held about the child (an admin answering a parent's access request)."""
        record = await self._child_records.export(child_id)
        if record is None:
            raise NotFound("child", ErrorCode.NOT_FOUND)
        return record

    async def create_coach(
        self, *, name: str, email: str, phone: str | None, calendar_id: str | None, timezone: str
    ) -> Coach:
        return await self._people.create_coach(
            name=name, email=email, phone=phone, calendar_id=calendar_id, timezone=timezone
        )

    async def create_parent(self, *, name: str, phone: str, email: str | None, timezone: str | None = None) -> Parent:
        return await self._people.create_parent(name=name, phone=phone, email=email, timezone=timezone)

    async def create_child(self, *, name: str, age: int, parent_id: UUID, coach_id: UUID) -> Child:
        return await self._people.create_child(name=name, age=age, parent_id=parent_id, coach_id=coach_id)

    async def edit_coach(self, coach_id: UUID, changes: dict[str, object]) -> Coach:
        return _found(await self._people.update_coach(coach_id, changes), "coach")

    async def edit_parent(self, parent_id: UUID, changes: dict[str, object]) -> Parent:
        return _found(await self._people.update_parent(parent_id, changes), "parent")

    async def edit_child(self, child_id: UUID, changes: dict[str, object]) -> Child:
        return _found(await self._people.update_child(child_id, changes), "child")

    async def deactivate_coach(self, coach_id: UUID) -> Coach:
        """No new enrolments with this coach; their sessions and record stay."""
        row = await self._people.deactivate("coaches", coach_id)
        return Coach.model_validate(dict(_found(row, "coach")))

    async def deactivate_parent(self, parent_id: UUID) -> Parent:
        """No more messages to this parent (a queued one is dropped at delivery); the record stays."""
        row = await self._people.deactivate("parents", parent_id)
        return Parent.model_validate(dict(_found(row, "parent")))

    async def list_parents(self) -> list[Parent]:
        return await self._people.list_parents()

    async def list_children(self, principal: Principal, coach_id: UUID | None) -> list[Child]:
        # A coach always sees their own children, whatever coachId they pass.
        scope = principal.coach_scope() or coach_id
        return await self._people.list_children(scope)

    async def list_coaches(self, principal: Principal) -> list[Coach]:
        """An admin sees every coach (the pages' coach filter); a coach sees themselves (their timezone)."""
        return await self._people.list_coaches(principal.coach_scope())


def _found(row: _T | None, what: str) -> _T:
    if row is None:
        raise NotFound(what, ErrorCode.NOT_FOUND)
    return row
