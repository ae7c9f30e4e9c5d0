"""Figure 2: the action round trip (complete, missed, reschedule, request-cancel) and where its time goes.

Per action, five variants run in rotation on fresh sessions whose workflows are already running:
``service`` (HTTP → API → update-with-start → SessionWorkflow → local activity → answer),
``direct`` (the same update-with-start from a plain Temporal client: no HTTP, auth or API read),
``floor`` (update-with-start on a bare workflow → local activity running the same transaction,
``activities.sessions.run_transition``), ``floor_unsandboxed`` (the same bare workflow without the sandbox) and
``tx`` (the transaction alone in asyncpg). Their differences are the breakdown.
"""

import asyncio
import functools
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any
from uuid import uuid4

import asyncpg
import httpx
from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy

from activities.sessions import run_transition
from bench.floor_worker import FLOOR_QUEUE, FLOOR_QUEUE_UNSANDBOXED, FloorWorkflow
from bench.procs import BEFORE_QUEUE
from bench.stats import ratio, summarize
from bench.workload import TASK_QUEUE, Target, check, make_targets, now, start_session_workflows, timed, until
from coach_sessions.contracts import (
    Actor,
    CompleteInput,
    MarkMissedInput,
    RequestCancellationInput,
    RescheduleInput,
    SessionAction,
    SessionWorkflowInput,
    TransitionRequest,
)
from coach_sessions.repositories.sessions import SessionRepository
from coach_sessions.temporal import session_workflow_id
from workflows.session import SessionWorkflow

ACTIONS = ("complete", "missed", "reschedule", "request-cancel")
VARIANTS = ("service", "direct", "floor", "floor_unsandboxed", "tx")
CONSENT_WINDOW = timedelta(hours=48)


def _later() -> Any:
    return (now() + timedelta(days=3)).replace(hour=5, minute=30, second=0, microsecond=0)  # 11:00 in Kolkata


def _http(action: str, target: Target) -> tuple[str, str, dict[str, Any]]:
    sid = str(target.session_id)
    if action == "complete":
        return "POST", "/api/sessions/complete", {"sessionId": sid, "notes": "bench"}
    if action == "missed":
        return "POST", "/api/sessions/missed", {"sessionId": sid, "notifyParent": True}
    if action == "reschedule":
        return "PATCH", "/api/sessions", {"sessionId": sid, "newDate": _later().date().isoformat(), "newTime": "11:00"}
    return "POST", "/api/sessions/request-cancel", {"sessionId": sid, "reason": "bench trip"}


def _update(action: str, actor: Actor) -> tuple[Any, Any]:
    deadline = now() + timedelta(seconds=4)
    if action == "complete":
        return SessionWorkflow.complete, CompleteInput(actor=actor, notes="bench", deadline=deadline)
    if action == "missed":
        return SessionWorkflow.mark_missed, MarkMissedInput(actor=actor, notify_parent=True, deadline=deadline)
    if action == "reschedule":
        return SessionWorkflow.reschedule, RescheduleInput(actor=actor, new_scheduled_at=_later(), deadline=deadline)
    argument = RequestCancellationInput(
        actor=actor, reason="bench trip", auto_approve_after=CONSENT_WINDOW, deadline=deadline
    )
    return SessionWorkflow.request_cancellation, argument


def _transition(action: str, target: Target) -> TransitionRequest:
    actor = Actor(id=target.family.coach.id, role="coach")
    common: dict[str, Any] = {"session_id": target.session_id, "request_id": str(uuid4()), "actor": actor, "now": now()}
    if action == "complete":
        return TransitionRequest(action=SessionAction.COMPLETE, notes="bench", **common)
    if action == "missed":
        return TransitionRequest(action=SessionAction.MARK_MISSED, notify_parent=True, **common)
    if action == "reschedule":
        return TransitionRequest(action=SessionAction.RESCHEDULE, new_scheduled_at=_later(), **common)
    return TransitionRequest(
        action=SessionAction.REQUEST_CANCELLATION, reason="bench trip", consent_window=CONSENT_WINDOW, **common
    )


class ActionBench:
    def __init__(
        self,
        pool: asyncpg.Pool,
        client: Client,
        http: httpx.AsyncClient,
        secret: str,
        http_before: httpx.AsyncClient | None = None,
    ) -> None:
        self.pool, self.client, self.http, self.secret = pool, client, http, secret
        self.http_before = http_before  # an A/B run: the older tree's API (and worker, on its own queue)
        # In an A/B run the main worker must not do more than the older one: no ``direct`` variant there.
        self.variants = ("service", "service_before", "floor", "floor_unsandboxed", "tx") if http_before else VARIANTS
        self.repo = SessionRepository(pool)

    def caller(self, variant: str, action: str) -> Callable[[Target], Awaitable[Any]]:
        async def service(target: Target, http: httpx.AsyncClient | None = None) -> Any:
            method, url, body = _http(action, target)
            headers = {"Authorization": f"Bearer {target.token}"}
            return check(await (http or self.http).request(method, url, json=body, headers=headers), 200, 202)

        async def service_before(target: Target) -> Any:
            return await service(target, self.http_before)

        async def direct(target: Target) -> Any:
            update, argument = _update(action, Actor(id=target.family.coach.id, role="coach"))
            start = WithStartWorkflowOperation(
                SessionWorkflow.run,
                SessionWorkflowInput(session_id=target.session_id),
                id=session_workflow_id(target.session_id),
                task_queue=TASK_QUEUE,
                id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            )
            return await self.client.execute_update_with_start_workflow(
                update, argument, start_workflow_operation=start
            )

        def floor_on(queue: str) -> Callable[[Target], Awaitable[Any]]:
            async def floor(target: Target) -> Any:
                start = WithStartWorkflowOperation(
                    FloorWorkflow.run,
                    id=f"floor-{queue}-{target.session_id}",
                    task_queue=queue,
                    id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
                )
                return await self.client.execute_update_with_start_workflow(
                    FloorWorkflow.apply, _transition(action, target), start_workflow_operation=start
                )

            return floor

        async def tx(target: Target) -> Any:
            return await run_transition(self.repo, _transition(action, target))

        return {
            "service": service,
            "service_before": service_before,
            "direct": direct,
            "floor": floor_on(FLOOR_QUEUE),
            "floor_unsandboxed": floor_on(FLOOR_QUEUE_UNSANDBOXED),
            "tx": tx,
        }[variant]

    async def prepare(self, action: str, count: int) -> dict[str, list[Target]]:
        """Fresh sessions per variant, each with its (session or floor) workflow already running."""
        started = action in ("complete", "missed")
        targets = {v: await make_targets(self.pool, self.secret, count, started=started) for v in self.variants}
        await start_session_workflows(self.client, self.pool, targets["service"] + targets.get("direct", []))
        if "service_before" in targets:
            await start_session_workflows(self.client, self.pool, targets["service_before"], BEFORE_QUEUE)
        for variant, queue in (("floor", FLOOR_QUEUE), ("floor_unsandboxed", FLOOR_QUEUE_UNSANDBOXED)):
            handles = [
                await self.client.start_workflow(
                    FloorWorkflow.run, id=f"floor-{queue}-{t.session_id}", task_queue=queue
                )
                for t in targets[variant]
            ]
            for handle in handles:  # its first workflow task has run (the sandbox is set up): as the service's
                await handle.query(FloorWorkflow.ready)
        return targets

    async def run(self, action: str, count: int) -> dict[str, Any]:
        targets = await self.prepare(action, count)
        variants = self.variants
        samples: dict[str, list[float]] = {v: [] for v in variants}
        calls = {v: self.caller(v, action) for v in variants}
        for i in range(count):
            # Rotated order, and each action's side effects (messages, calendar) finished before the next
            # variant runs: otherwise whatever follows the service pays for its background work.
            for variant in variants[i % len(variants) :] + variants[: i % len(variants)]:
                target = targets[variant][i]
                ms, _ = await timed(functools.partial(calls[variant], target))
                samples[variant].append(ms)
                if variant in (
                    "service",
                    "direct",
                    "service_before",
                ):  # (the floors leave their messages queued: no delivery)
                    await self.settled(target)
                else:
                    await asyncio.sleep(0.02)
        keep = {v: s[2:] if len(s) > 10 else s for v, s in samples.items()}  # first rounds warm caches up
        figures: dict[str, Any] = {v: summarize(s) for v, s in keep.items()}
        if "service_before" in figures:
            figures["after_vs_before_p50"] = ratio(figures["service"]["p50"], figures["service_before"]["p50"])
        return {
            **figures,
            "ratio_p50_vs_floor": ratio(figures["service"]["p50"], figures["floor"]["p50"]),
            "ratio_p50_vs_tx": ratio(figures["service"]["p50"], figures["tx"]["p50"]),
            "history": await self.history_of(targets),
        }

    async def settled(self, target: Target) -> None:
        """Until the session's messages are delivered (or failed) and its calendar is in sync."""
        await until(
            lambda: self.pool.fetchval(
                "SELECT NOT EXISTS (SELECT 1 FROM outbound_messages"
                " WHERE session_id = $1 AND status IN ('queued', 'sending'))"
                " AND (SELECT calendar_sync_status <> 'pending' FROM scheduled_sessions WHERE id = $1)",
                target.session_id,
            ),
            within=30,
            interval=0.01,
        )
        await asyncio.sleep(0.02)  # the workflow tasks that record those results

    async def history_of(self, targets: dict[str, list[Target]]) -> dict[str, Any]:
        """Events and bytes in the history of one service workflow and one floor workflow."""
        service = self.client.get_workflow_handle(session_workflow_id(targets["service"][0].session_id))
        floor = self.client.get_workflow_handle(f"floor-{FLOOR_QUEUE}-{targets['floor'][0].session_id}")
        out: dict[str, Any] = {}
        for name, handle in (("service", service), ("floor", floor)):
            history = await handle.fetch_history()
            events = history.events
            out[name] = {
                "events": len(events),
                "bytes": sum(e.ByteSize() for e in events),
                "types": [str(e.WhichOneof("attributes")).removesuffix("_event_attributes") for e in events],
            }
        return out
