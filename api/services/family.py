"""A family's link (coach_sessions/family_links.py) and what a parent reaches with it: their children,
each child's record as a parent may see it, and the child's erasure (docs/security.md, "Family links")."""

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from api.services.people import PeopleService
from coach_sessions import family_links
from coach_sessions.errors import DomainError, ErrorCode, NotFound
from coach_sessions.models import ChildErasure
from coach_sessions.repositories.family_links import FamilyLinkRepository

INVALID_LINK_DETAIL = (
    "This family link is not valid: it has expired, was replaced by a newer one, or is not whole. "
    "Ask the programme for a new link."
)
# What a parent's own export leaves out, because the coach did not choose to send it to the family:
# private notes and what is derived from them. An admin's export (a formal access request) holds all.
_COACHS_OWN = ("learning_events", "assessments", "briefs")
_SESSION_FIELDS_KEPT_FROM_PARENTS = ("coach_notes", "calendar_sync_error")


def invalid_family_link() -> DomainError:
    return DomainError(ErrorCode.UNAUTHORIZED, INVALID_LINK_DETAIL)


def parents_view(record: dict[str, Any]) -> dict[str, Any]:
    """The export as the family may see it, and how many items of each kind were left for the coach."""
    sessions = [{k: v for k, v in s.items() if k not in _SESSION_FIELDS_KEPT_FROM_PARENTS} for s in record["sessions"]]
    to_parent = [m for m in record["messages_sent"] if m.get("recipient_role") == "parent"]
    withheld = {name: len(record[name]) for name in _COACHS_OWN}
    withheld["coach_notes"] = sum(1 for s in record["sessions"] if s.get("coach_notes"))
    withheld["messages_to_the_coach"] = len(record["messages_sent"]) - len(to_parent)
    return {
        "exported_at": record["exported_at"],
        "child": record["child"],
        "parent": record["parent"],
        "enrollments": record["enrollments"],
        "sessions": sessions,
        "homework": record["homework"],
        "messages_sent": to_parent,
        "messages_received": record["messages_received"],
        "withheld": withheld,
    }


class FamilyService:
    def __init__(
        self,
        links: FamilyLinkRepository,
        people: PeopleService,
        *,
        secret: bytes,
        ttl: timedelta,
        clock: Callable[[], datetime],
    ) -> None:
        self._links = links
        self._people = people
        self._secret = secret
        self._ttl = ttl
        self._clock = clock

    async def family_for(self, link: str) -> UUID:
        """The parent a link names, when it is whole, unexpired and of the family's current version."""
        read = family_links.read(self._secret, link, now=self._clock())
        if read is None or await self._links.version(read.parent_id) != read.version:
            raise invalid_family_link()
        return read.parent_id

    async def issue_link(self, parent_id: UUID) -> tuple[str, datetime]:
        """Admin: a new link for the family (older ones keep working until they expire)."""
        version = await self._links.version(parent_id)
        if version is None:
            raise NotFound("parent", ErrorCode.NOT_FOUND)
        return family_links.mint(self._secret, parent_id, version, now=self._clock(), ttl=self._ttl)

    async def replace_links(self, parent_id: UUID) -> tuple[str, datetime]:
        """Admin: every older link of the family stops working; the new one is returned."""
        version = await self._links.rotate(parent_id)
        if version is None:
            raise NotFound("parent", ErrorCode.NOT_FOUND)
        return family_links.mint(self._secret, parent_id, version, now=self._clock(), ttl=self._ttl)

    async def children(self, parent_id: UUID) -> list[dict[str, Any]]:
        return await self._links.children(parent_id)

    async def export_child(self, parent_id: UUID, child_id: UUID) -> dict[str, Any]:
        await self._require_familys(parent_id, child_id)
        return parents_view(await self._people.export_child(child_id))

    async def erase_child(self, parent_id: UUID, child_id: UUID) -> tuple[ChildErasure, bool]:
        await self._require_familys(parent_id, child_id)
        return await self._people.erase_child(parent_id, child_id)

    async def _require_familys(self, parent_id: UUID, child_id: UUID) -> None:
        if not await self._links.is_familys_child(parent_id, child_id):  # another family's: as missing
            raise NotFound("child", ErrorCode.NOT_FOUND)
