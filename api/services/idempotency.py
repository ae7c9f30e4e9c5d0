"""Idempotency-Key for actions: one outcome per caller and key, returned again to every retry."""

import hashlib
import json
from dataclasses import dataclass
from uuid import UUID, uuid5

from pydantic import BaseModel

from coach_sessions.errors import DomainError, ErrorCode
from coach_sessions.models import SessionView
from coach_sessions.repositories.idempotency import IdempotencyRepository

_KEY_NAMESPACE = UUID("6f1b8f0e-6c57-4c55-9d7e-2f1b3c9a4d10")
# Outcomes that say nothing about the action itself: a retry must run it again.
NOT_KEPT = frozenset({ErrorCode.TEMPORARILY_UNAVAILABLE, ErrorCode.SERVICE_UNAVAILABLE})
# Fields of an update that differ between two attempts of one request (its deadline, its request id)
# or come from this service's settings rather than from the caller: not part of "the same request".
_NOT_THE_REQUEST = frozenset({"deadline", "request_id", "minimum_notice", "auto_approve_after"})


def key_request_id(principal_id: UUID, key: str) -> str:
    """The request id of this caller's key: the transition's key in Postgres, across retries."""
    return f"idem-{uuid5(_KEY_NAMESPACE, f'{principal_id}:{key}')}"


@dataclass(frozen=True)
class KeyedRequest:
    """An action sent with an Idempotency-Key: whose key, and what the request was (its fingerprint)."""

    principal_id: UUID
    key: str
    fingerprint: str

    @classmethod
    def of(cls, principal_id: UUID, key: str, session_id: UUID, update: BaseModel) -> "KeyedRequest":
        """The fingerprint is the update the action sends, less what changes between its attempts."""
        document = {
            "action": type(update).__name__,
            "session_id": str(session_id),
            **update.model_dump(mode="json", exclude=set(_NOT_THE_REQUEST)),
        }
        fingerprint = hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()
        return cls(principal_id, key, fingerprint)

    @property
    def request_id(self) -> str:
        return key_request_id(self.principal_id, self.key)


class KeyedOutcomes:
    def __init__(self, repository: IdempotencyRepository) -> None:
        self._repository = repository

    async def first_outcome(self, request: KeyedRequest) -> SessionView | None:
        """The kept outcome (a view, or its refusal raised again), None when the key is new."""
        stored = await self._repository.get(request.principal_id, request.key)
        if stored is None:
            return None
        kept_fingerprint, outcome = stored
        if kept_fingerprint != request.fingerprint:
            raise DomainError(ErrorCode.IDEMPOTENCY_KEY_REUSED, "This Idempotency-Key was used for another request.")
        if "session" in outcome:
            return SessionView.model_validate(outcome["session"])
        raise DomainError(outcome["error"], outcome["detail"], **outcome.get("extra", {}))

    async def keep_view(self, request: KeyedRequest, view: SessionView) -> None:
        outcome = {"session": view.model_dump(mode="json")}
        await self._repository.save(request.principal_id, request.key, request.fingerprint, outcome)

    async def keep_refusal(self, request: KeyedRequest, error: DomainError) -> None:
        if error.code not in NOT_KEPT:
            outcome = {"error": error.code, "detail": error.detail, "extra": error.extra}
            await self._repository.save(request.principal_id, request.key, request.fingerprint, outcome)
