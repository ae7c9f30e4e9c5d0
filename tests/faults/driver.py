"""The action driver: sends session actions to the API process and records every request and answer."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx

from coach_sessions.statuses import Role
from tests.helpers import token_for

REQUEST_TIMEOUT = 20.0  # what a client would wait; the target answer bound is far below
UNAVAILABLE_RETRIES = 5  # a keyed retry resent after a 503, at its Retry-After
ADMIN_ID = UUID("00000000-0000-4000-8000-0000000000a1")

# The learning event each action leaves when applied.
EVENT_OF = {
    "complete": "session_completed",
    "missed": "session_missed",
    "reschedule": "session_rescheduled",
    "request-cancel": "cancellation_requested",
    "withdraw": "cancellation_withdrawn",
    "cancel": "session_cancelled",
    "decide": "cancellation_rejected",
}
ADMIN_ACTIONS = frozenset({"cancel", "decide"})


@dataclass
class Record:
    action: str
    session_id: UUID
    idempotency_key: str | None
    sent_at: float  # monotonic
    elapsed: float
    status: int | None  # None: no answer (timeout / connection error)
    body: Any
    retry_after: str | None
    error: str | None = None
    sent_wall: float = 0.0  # time.time() when sent: compared with the database's commit times

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def brief(self) -> str:
        code = self.body.get("error") if isinstance(self.body, dict) else None
        return f"{self.action} {self.session_id} -> {self.status or self.error} {code or ''} in {self.elapsed:.1f}s"


@dataclass
class Driver:
    api_url: str
    coach_of: dict[UUID, UUID]  # session id -> its coach (the caller)
    records: list[Record] = field(default_factory=list)

    def _request(self, action: str, session_id: UUID) -> tuple[str, str, dict[str, Any]]:
        sid = str(session_id)
        if action == "complete":
            return "POST", "/api/sessions/complete", {"sessionId": sid, "notes": "fault drill"}
        if action == "missed":
            return "POST", "/api/sessions/missed", {"sessionId": sid, "notifyParent": True}
        if action == "reschedule":
            day = (datetime.now(UTC) + timedelta(days=10)).date().isoformat()
            return "PATCH", "/api/sessions", {"sessionId": sid, "newDate": day, "newTime": "17:30:00"}
        if action == "request-cancel":
            return "POST", "/api/sessions/request-cancel", {"sessionId": sid, "reason": "coach unwell"}
        if action == "withdraw":
            return "POST", "/api/sessions/withdraw-cancel", {"sessionId": sid}
        if action == "cancel":  # an admin's
            return "DELETE", f"/api/sessions?sessionId={sid}&reason=holiday", {}
        if action == "decide":  # an admin's, for a parent who phoned in
            return "POST", "/api/sessions/decide-cancel", {"sessionId": sid, "decision": "reject"}
        raise ValueError(action)

    async def send(self, action: str, session_id: UUID, *, idempotency_key: str | None = None) -> Record:
        method, path, body = self._request(action, session_id)
        caller = (ADMIN_ID, Role.ADMIN) if action in ADMIN_ACTIONS else (self.coach_of[session_id], Role.COACH)
        headers = {"Authorization": f"Bearer {token_for(*caller)}"}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        started, started_wall = time.monotonic(), time.time()
        status: int | None = None
        answer: Any = None
        retry_after = error = None
        try:
            async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT) as http:
                response = await http.request(method, self.api_url + path, json=body or None, headers=headers)
            status, retry_after = response.status_code, response.headers.get("retry-after")
            try:
                answer = response.json()
            except ValueError:
                answer = response.text
        except httpx.HTTPError as exc:
            error = type(exc).__name__
        record = Record(action, session_id, idempotency_key, started, time.monotonic() - started, status, answer,
                        retry_after, error, started_wall)  # fmt: skip
        self.records.append(record)
        return record

    async def run_plan(self, session_id: UUID, actions: list[str], *, keyed: bool = False, pace: float = 0.0) -> None:
        """One session's actions in order; a follow-up (withdraw) only after its request succeeded."""
        for action in actions:
            if action == "withdraw" and not any(
                r.ok and r.action == "request-cancel" and r.session_id == session_id for r in self.records
            ):
                continue
            await self.send(action, session_id, idempotency_key=str(uuid.uuid4()) if keyed else None)
            await asyncio.sleep(pace)

    async def stream(self, plans: list[tuple[UUID, list[str]]], *, concurrency: int = 3, pace: float = 0.2,
                     keyed_every: int = 0) -> None:  # fmt: skip
        """Run the plans with ``concurrency`` callers; every ``keyed_every``-th plan sends Idempotency-Keys."""
        queue: asyncio.Queue[tuple[int, tuple[UUID, list[str]]]] = asyncio.Queue()
        for item in enumerate(plans):
            queue.put_nowait(item)

        async def caller() -> None:
            while not queue.empty():
                index, (session_id, actions) = queue.get_nowait()
                keyed = bool(keyed_every) and index % keyed_every == 0
                await self.run_plan(session_id, actions, keyed=keyed, pace=pace)

        await asyncio.gather(*(caller() for _ in range(concurrency)))

    async def retry_keyed_failures(self) -> list[tuple[Record, Record, Record]]:
        """Resend every keyed request that failed, twice with its key: (original, retry, repeat)."""
        failed = [r for r in list(self.records) if r.idempotency_key and not r.ok]
        out = []
        for original in failed:
            retry = await self.send(original.action, original.session_id, idempotency_key=original.idempotency_key)
            for _ in range(UNAVAILABLE_RETRIES):
                # 503 says "later", as a client reads it: /readyz can be 200 again (the API reaches
                # Temporal) a moment before the worker's pollers are back.
                if retry.status != 503:
                    break
                await asyncio.sleep(float(retry.retry_after or 1))
                retry = await self.send(original.action, original.session_id, idempotency_key=original.idempotency_key)
            repeat = await self.send(original.action, original.session_id, idempotency_key=original.idempotency_key)
            out.append((original, retry, repeat))
        return out


def mixed_plans(sessions: list[UUID]) -> list[tuple[UUID, list[str]]]:
    """Every kind of action, round-robin over the sessions (each session gets one plan)."""
    kinds = [["complete"], ["missed"], ["reschedule"], ["request-cancel", "withdraw"]]
    return [(sid, kinds[i % len(kinds)]) for i, sid in enumerate(sessions)]
