"""Idempotency-Key for actions: the key is claimed before the action runs, and its one outcome is
returned to every retry and every concurrent copy of the request (docs/reliability.md)."""

import asyncio
import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid5

from pydantic import BaseModel

from coach_sessions.errors import DomainError, ErrorCode
from coach_sessions.models import SessionView
from coach_sessions.repositories.idempotency import IdempotencyRepository, KeyRow

_KEY_NAMESPACE = UUID("6f1b8f0e-6c57-4c55-9d7e-2f1b3c9a4d10")
# Outcomes that say nothing about the action itself: a retry must run it again.
NOT_KEPT = frozenset({ErrorCode.TEMPORARILY_UNAVAILABLE, ErrorCode.SERVICE_UNAVAILABLE})
# Fields of an update that differ between two attempts of one request (its deadline, its request id)
# or come from this service's settings rather than from the caller: not part of "the same request".
_NOT_THE_REQUEST = frozenset({"deadline", "request_id", "minimum_notice", "auto_approve_after"})
# Fields added to an update later: left out while unset, so a key first used before they existed keeps
# its fingerprint across the deploy (its retry is the same request, not a reused key).
_ADDED_LATER = frozenset({"parent_message"})
# A copy of a request waiting for the copy that holds the key reads the key again after these delays.
_FIRST_POLL, _LAST_POLL = 0.02, 0.25
IN_PROGRESS_RETRY_AFTER_SECONDS = 1


def key_request_id(principal_id: UUID, key: str) -> str:
    """The request id of this caller's key: the transition's key in Postgres, across retries."""
    return f"idem-{uuid5(_KEY_NAMESPACE, f'{principal_id}:{key}')}"


def keyed_row_id(principal_id: UUID, kind: str, key: str) -> UUID:
    """The id of the row a keyed create makes (``kind``: homework, assessment, learning-event): one row
    per caller and key, whichever copy of the request inserts it first."""
    return uuid5(_KEY_NAMESPACE, f"{principal_id}:{kind}:{key}")


def key_reused() -> DomainError:
    return DomainError(ErrorCode.IDEMPOTENCY_KEY_REUSED, "This Idempotency-Key was used for another request.")


@dataclass(frozen=True)
class KeyedRequest:
    """An action sent with an Idempotency-Key: whose key, and what the request was (its fingerprint)."""

    principal_id: UUID
    key: str
    fingerprint: str

    @classmethod
    def of(cls, principal_id: UUID, key: str, session_id: UUID, update: BaseModel) -> "KeyedRequest":
        """The fingerprint is the update the action sends, less what changes between its attempts."""
        fields = update.model_dump(mode="json", exclude=set(_NOT_THE_REQUEST))
        document = {
            "action": type(update).__name__,
            "session_id": str(session_id),
            **{name: value for name, value in fields.items() if not (name in _ADDED_LATER and value is None)},
        }
        fingerprint = hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()
        return cls(principal_id, key, fingerprint)

    @property
    def request_id(self) -> str:
        return key_request_id(self.principal_id, self.key)


@dataclass(frozen=True)
class Claim:
    """This request holds its key: it runs the action, then keeps its outcome (or releases the key)."""

    request: KeyedRequest
    token: UUID


class KeyedOutcomes:
    def __init__(self, repository: IdempotencyRepository) -> None:
        self._repository = repository

    async def claim(self, request: KeyedRequest, *, wait_within: timedelta, lease: timedelta) -> Claim | SessionView:
        """Claim the key for this request, or answer with the outcome the key already has.

        - a new key, or a claim whose lease ran out (its holder died mid-action): claimed;
        - the key of another request: ``422 idempotency_key_reused``;
        - an outcome kept: that outcome (a view, or its refusal raised again);
        - claimed by a live copy of this request: its outcome, waited for up to ``wait_within``;
          still running then, ``409 idempotency_key_in_progress``; given up by that copy (its own
          answer was 503, nothing kept), ``503 temporarily_unavailable`` like it.
        """
        clock = asyncio.get_running_loop().time
        give_up_at, delay, waited = clock() + wait_within.total_seconds(), _FIRST_POLL, False
        while True:
            if not waited and (token := await self._repository.claim(*_row_of(request), lease=lease)) is not None:
                return Claim(request, token)
            row = await self._repository.get(request.principal_id, request.key)
            if row is None:
                if waited:
                    raise DomainError(
                        ErrorCode.TEMPORARILY_UNAVAILABLE,
                        "A copy of this request got no answer in time; the action was not applied. Retry it.",
                        retry_after=IN_PROGRESS_RETRY_AFTER_SECONDS,
                    )
                continue  # released between the insert and the read: claim it again
            if (outcome := _kept(request, row)) is not None:
                return outcome
            if (token := await self._repository.take_over(*_row_of(request), lease=lease)) is not None:
                return Claim(request, token)
            if clock() >= give_up_at:
                raise DomainError(
                    ErrorCode.IDEMPOTENCY_KEY_IN_PROGRESS,
                    "A request with this Idempotency-Key is still in progress; retry it to get its outcome.",
                    retry_after=IN_PROGRESS_RETRY_AFTER_SECONDS,
                )
            await asyncio.sleep(min(delay, max(give_up_at - clock(), 0.0)))
            delay, waited = min(delay * 2, _LAST_POLL), True

    async def keep_view(self, claim: Claim, view: SessionView) -> None:
        await self._finish(claim, {"session": view.model_dump(mode="json")})

    async def keep_refusal(self, claim: Claim, error: DomainError) -> None:
        """Keep the refusal, except unavailability (it says nothing of the action): then release."""
        if error.code in NOT_KEPT:
            await self.release(claim)
        else:
            await self._finish(claim, {"error": error.code, "detail": error.detail, "extra": error.extra})

    async def release(self, claim: Claim) -> None:
        """Nothing is kept: the next request with this key runs the action again."""
        await self._repository.release(claim.request.principal_id, claim.request.key, claim.token)

    async def _finish(self, claim: Claim, outcome: dict[str, Any]) -> None:
        # A holder whose claim was taken over (it outlived its lease) keeps nothing: the taker's
        # outcome, found from the same committed transition, is the one kept.
        request = claim.request
        await self._repository.finish(request.principal_id, request.key, claim.token, outcome)


def _row_of(request: KeyedRequest) -> tuple[UUID, str, str]:
    return request.principal_id, request.key, request.fingerprint


def _kept(request: KeyedRequest, row: KeyRow) -> SessionView | None:
    """The outcome the key holds for this request (its refusal raised again); None while claimed."""
    if row.fingerprint != request.fingerprint:
        raise key_reused()
    if row.state != "done":
        return None
    assert row.outcome is not None  # CHECK api_idempotency_keys_outcome_once_done
    if "session" in row.outcome:
        return SessionView.model_validate(row.outcome["session"])
    raise DomainError(row.outcome["error"], row.outcome["detail"], **row.outcome.get("extra", {}))
