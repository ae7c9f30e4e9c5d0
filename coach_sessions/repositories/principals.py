"""Who a caller is: the one lookup of a coach or an admin, whichever way they came in.

An OpenID sign-in and a provider's token name a person by email or by the provider's subject; the
portal's own tokens and the session cookie name a row by id. All of them end here, so a rule about
who may sign in (an admin outranks a coach with the same email; a later deactivation) has one home.
"""

from uuid import UUID

import asyncpg

from coach_sessions.auth import Principal
from coach_sessions.statuses import Role

# Admins first: a person who is both (one email in both tables) signs in with the wider role.
_BY_EMAIL = """
SELECT id, 'admin' AS role, name FROM admins WHERE lower(email) = lower($1)
UNION ALL
SELECT id, 'coach' AS role, name FROM coaches WHERE lower(email) = lower($1)
LIMIT 1
"""
_BY_ID = {
    Role.ADMIN: "SELECT id, 'admin' AS role, name FROM admins WHERE id = $1",
    Role.COACH: "SELECT id, 'coach' AS role, name FROM coaches WHERE id = $1",
}
_BY_SUBJECT = """
SELECT id, 'admin' AS role, name FROM admins WHERE id = $1
UNION ALL
SELECT id, 'coach' AS role, name FROM coaches WHERE id = $1
LIMIT 1
"""
# Who the development sign-in page offers: admins, then coaches; the demo cast (example.org) first,
# and the newest first within each (a database with many coaches still shows the one just added).
_EVERYONE = """
SELECT id, role, name, email FROM (
    SELECT id, 'admin' AS role, name, email, created_at, 0 AS rank FROM admins
    UNION ALL
    SELECT id, 'coach' AS role, name, email, created_at, 1 AS rank FROM coaches
) people
ORDER BY rank, (lower(email) LIKE '%@example.org') DESC, created_at DESC, id
LIMIT $1
"""


def _principal(row: asyncpg.Record | None) -> Principal | None:
    return None if row is None else Principal(id=row["id"], role=Role(row["role"]), name=row["name"])


class PrincipalRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def by_id(self, principal_id: UUID, role: Role) -> Principal | None:
        """The row a portal token or a session names, only in the table of its role."""
        return _principal(await self._pool.fetchrow(_BY_ID[role], principal_id))

    async def by_email(self, email: str) -> Principal | None:
        return _principal(await self._pool.fetchrow(_BY_EMAIL, email))

    async def by_subject(self, subject: UUID) -> Principal | None:
        """A provider's subject that is one of our ids (Supabase: the auth user's id is the profile's id)."""
        return _principal(await self._pool.fetchrow(_BY_SUBJECT, subject))

    async def everyone(self, limit: int = 200) -> list[tuple[Principal, str]]:
        """Each principal with their email, for the development sign-in page only."""
        rows = await self._pool.fetch(_EVERYONE, limit)
        return [(Principal(id=r["id"], role=Role(r["role"]), name=r["name"]), r["email"]) for r in rows]

    async def add_admin(self, *, name: str, email: str, admin_id: UUID | None = None) -> Principal:
        """Idempotent on email: the CLI's add-admin run twice leaves one row."""
        row = await self._pool.fetchrow(
            "INSERT INTO admins (id, name, email) VALUES (coalesce($1, gen_random_uuid()), $2, $3)"
            " ON CONFLICT (lower(email)) DO UPDATE SET name = EXCLUDED.name"
            " RETURNING id, 'admin' AS role, name",
            admin_id,
            name,
            email,
        )
        principal = _principal(row)
        assert principal is not None
        return principal
