"""Who may see what: a session or a child is visible to its coach and to admins, and to nobody else.

Anyone else gets the same 404 as for a row that does not exist, so ids of other coaches' children and
sessions cannot be told apart from made-up ones.
"""

from uuid import UUID

from coach_sessions.auth import Principal
from coach_sessions.errors import ErrorCode, NotFound
from coach_sessions.models import Child, SessionRecord
from coach_sessions.repositories.people import PeopleRepository
from coach_sessions.repositories.sessions import SessionRepository


def may_see(principal: Principal, coach_id: UUID) -> bool:
    return principal.is_admin or coach_id == principal.id


async def visible_session(sessions: SessionRepository, principal: Principal, session_id: UUID) -> SessionRecord:
    record = await sessions.get(session_id)
    if record is None or not may_see(principal, record.coach_id):
        raise NotFound()
    return record


async def visible_child(people: PeopleRepository, principal: Principal, child_id: UUID) -> Child:
    """An erased child is gone for its coach (nothing more is written to its record); an admin still
    sees what was kept for accounting."""
    child = await people.get_child(child_id)
    if child is None or not may_see(principal, child.coach_id) or (child.erased and not principal.is_admin):
        raise NotFound("child", ErrorCode.NOT_FOUND)
    return child
