"""Purging what is kept only for a while (docs/security.md, "Retention").

After PERSONAL_DATA_RETENTION an inbound webhook's body and phone number, and a sent message's
parameters and recipient name, are no longer needed (a parent's reply has been acted on, a message
delivered or given up): they are replaced by an empty value. What the record needs stays: that a reply
came and what it chose, that a message went, its template, status and times. Ended or expired page
sessions and abandoned OpenID sign-in states go too. Each statement works in batches so that a first
run over years of rows does not hold a long lock.
"""

from datetime import timedelta

import asyncpg

from coach_sessions.contracts import RetentionPurged

BATCH = 1000

_INBOUND = """
UPDATE inbound_messages SET payload = '{"purged": true}'::jsonb, from_phone = 'purged', button_text = NULL
 WHERE id IN (SELECT id FROM inbound_messages
               WHERE received_at < now() - $1::interval AND from_phone <> 'purged' LIMIT $2)
"""
# Only messages that are over: a queued, sending or in-doubt message still needs its parameters.
_OUTBOUND = """
UPDATE outbound_messages SET template_params = '[]'::jsonb, user_name = ''
 WHERE id IN (SELECT id FROM outbound_messages
               WHERE created_at < now() - $1::interval AND status IN ('sent', 'failed', 'dropped')
                 AND (template_params <> '[]'::jsonb OR user_name <> '') LIMIT $2)
"""
_SIGN_IN = """
DELETE FROM sign_in_sessions
 WHERE token_sha256 IN (SELECT token_sha256 FROM sign_in_sessions
                         WHERE coalesce(ended_at, expires_at) < now() - $1::interval LIMIT $2)
"""


def _count(status: str) -> int:
    return int(status.split()[-1])


class RetentionRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def purge(self, keep_for: timedelta) -> RetentionPurged:
        purged = RetentionPurged()
        for field, statement in (
            ("inbound_bodies", _INBOUND),
            ("message_parameters", _OUTBOUND),
            ("sign_in_rows", _SIGN_IN),
        ):
            while (done := _count(await self._pool.execute(statement, keep_for, BATCH))) > 0:
                setattr(purged, field, getattr(purged, field) + done)
                if done < BATCH:
                    break
        await self._pool.execute("DELETE FROM openid_sign_in_states WHERE expires_at < now()")
        return purged
