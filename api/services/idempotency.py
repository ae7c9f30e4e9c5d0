"""Idempotency-Key for actions: one outcome per caller and key, returned again to every retry."""

import hashlib
import json
from typing import Any
from uuid import UUID, uuid5

from coach_sessions.errors import DomainError, ErrorCode
from coach_sessions.models import SessionView
from coach_sessions.repositories.idempotency import IdempotencyRepository

_KEY_NAMESPACE = UUID("6f1b8f0e-6c57-4c55-9d7e-2f1b3c9a4d10")
# Outcomes that say nothing about the action itself: a retry must run it again.
NOT_KEPT = frozenset({ErrorCode.TEMPORARILY_UNAVAILABLE, ErrorCode.SERVICE_UNAVAILABLE})


class KeyedOutcomes:
    def __init__(self, repository: IdempotencyRepository) -> None:
        self._repository = repository

    @staticmethod
    def request_id(principal_id: UUID, key: str) -> str:
        """The request id of this caller's key: the transition's key in Postgres, across retries."""
        return f"idem-{uuid5(_KEY_NAMESPACE, f'{principal_id}:{key}')}"

    @staticmethod
    def fingerprint(action: str, session_id: UUID, arguments: dict[str, Any]) -> str:
        document = {"action": action, "session_id": str(session_id), **arguments}
        return hashlib.sha256(json.dumps(document, sort_keys=True, default=str).encode()).hexdigest()

    async def first_outcome(self, principal_id: UUID, key: str, fingerprint: str) -> SessionView | None:
        """The kept outcome (a view, or its refusal raised again), None when the key is new."""
        stored = await self._repository.get(principal_id, key)
        if stored is None:
            return None
        kept_fingerprint, outcome = stored
        if kept_fingerprint != fingerprint:
            raise DomainError(ErrorCode.IDEMPOTENCY_KEY_REUSED, "This Idempotency-Key was used for another request.")
        if "session" in outcome:
            return SessionView.model_validate(outcome["session"])
        raise DomainError(outcome["error"], outcome["detail"], **outcome.get("extra", {}))

    async def keep_view(self, principal_id: UUID, key: str, fingerprint: str, view: SessionView) -> None:
        await self._repository.save(principal_id, key, fingerprint, {"session": view.model_dump(mode="json")})

    async def keep_refusal(self, principal_id: UUID, key: str, fingerprint: str, error: DomainError) -> None:
        if error.code not in NOT_KEPT:
            outcome = {"error": error.code, "detail": error.detail, "extra": error.extra}
            await self._repository.save(principal_id, key, fingerprint, outcome)
