"""Server sessions of signed-in browsers, and the single-use state of an OpenID sign-in in flight."""

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from uuid import UUID

import asyncpg

from coach_sessions.auth import Principal
from coach_sessions.statuses import Role

SignedInWith = Literal["openid", "development", "token"]

# A live session's row, with its principal from the table its role lives in (the row is gone when the
# coach or admin is: ON DELETE CASCADE). Idle and absolute expiry are checked here, in SQL, at now().
_LIVE = """
SELECT s.csrf_token, s.last_seen_at, s.expires_at,
       coalesce(s.admin_id, s.coach_id) AS id,
       CASE WHEN s.admin_id IS NULL THEN 'coach' ELSE 'admin' END AS role,
       coalesce(a.name, c.name) AS name
  FROM sign_in_sessions s
  LEFT JOIN admins a ON a.id = s.admin_id
  LEFT JOIN coaches c ON c.id = s.coach_id
 WHERE s.token_sha256 = $1 AND s.ended_at IS NULL
   AND s.expires_at > now() AND s.last_seen_at > now() - $2::interval
"""


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


@dataclass(frozen=True)
class LiveSession:
    principal: Principal
    csrf_token: str
    last_seen_at: datetime
    expires_at: datetime


class SignInSessionRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def start(
        self, token: str, principal: Principal, *, csrf_token: str, signed_in_with: SignedInWith, lifetime: timedelta
    ) -> None:
        admin_id = principal.id if principal.role is Role.ADMIN else None
        coach_id = principal.id if principal.role is Role.COACH else None
        await self._pool.execute(
            "INSERT INTO sign_in_sessions (token_sha256, coach_id, admin_id, csrf_token, signed_in_with, expires_at)"
            " VALUES ($1, $2, $3, $4, $5, now() + $6::interval)",
            token_digest(token),
            coach_id,
            admin_id,
            csrf_token,
            signed_in_with,
            lifetime,
        )

    async def live(self, token: str, *, idle_timeout: timedelta) -> LiveSession | None:
        row = await self._pool.fetchrow(_LIVE, token_digest(token), idle_timeout)
        if row is None:
            return None
        principal = Principal(id=row["id"], role=Role(row["role"]), name=row["name"])
        return LiveSession(principal, row["csrf_token"], row["last_seen_at"], row["expires_at"])

    async def touch(self, token: str) -> None:
        """The idle clock restarts; called at most once a minute per session (a write per read is waste)."""
        await self._pool.execute(
            "UPDATE sign_in_sessions SET last_seen_at = now() WHERE token_sha256 = $1 AND ended_at IS NULL",
            token_digest(token),
        )

    async def end(self, token: str) -> bool:
        """Sign out: the row stays (who was signed in, when) but no request is accepted with it again."""
        status = await self._pool.execute(
            "UPDATE sign_in_sessions SET ended_at = now() WHERE token_sha256 = $1 AND ended_at IS NULL",
            token_digest(token),
        )
        return status == "UPDATE 1"

    async def end_all_of(self, principal_id: UUID) -> int:
        status = await self._pool.execute(
            "UPDATE sign_in_sessions SET ended_at = now() WHERE (coach_id = $1 OR admin_id = $1) AND ended_at IS NULL",
            principal_id,
        )
        return int(status.split()[-1])


class OpenIdStateStore:
    """Authlib's cache interface (async get/set/delete) over Postgres, so any API process can finish a
    sign-in another began. ``get`` consumes: a state is good for one callback."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def get(self, key: str) -> str | None:
        value: str | None = await self._pool.fetchval(
            "DELETE FROM openid_sign_in_states WHERE key = $1 AND expires_at > now() RETURNING value", key
        )
        return value

    async def set(self, key: str, value: str, expires_in: int | None = None) -> None:
        await self._pool.execute(
            "DELETE FROM openid_sign_in_states WHERE expires_at < now() - interval '1 day'"
        )  # stale rows of abandoned sign-ins go with the next sign-in
        await self._pool.execute(
            "INSERT INTO openid_sign_in_states (key, value, expires_at)"
            " VALUES ($1, $2, now() + make_interval(secs => $3))"
            " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, expires_at = EXCLUDED.expires_at",
            key,
            value,
            float(expires_in or 600),
        )

    async def delete(self, key: str) -> None:
        await self._pool.execute("DELETE FROM openid_sign_in_states WHERE key = $1", key)
