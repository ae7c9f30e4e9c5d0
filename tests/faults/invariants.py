"""The invariants every fault scenario asserts, computed from the driver's records and the real stores.

``check`` never stops at the first problem: it collects every violation with the observed values, so
one run tells which guarantees held and which did not (the report is what docs/reliability.md shows).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError

from coach_sessions.contracts import SessionWorkflowResult
from coach_sessions.temporal import session_workflow_id
from tests.faults.cluster import Cluster
from tests.faults.driver import EVENT_OF, Record
from workflows.session import SessionWorkflow

# The API's ACTION_ANSWER_WITHIN (5 s) is how long an action waits for its workflow; the answer also
# includes the request's own reads and the HTTP round trip on this loaded machine: 1 s more at most.
ACTION_ANSWER_WITHIN = 5.0
ANSWER_BOUND = ACTION_ANSWER_WITHIN + 1.0
UNAVAILABLE_CODES = {"temporarily_unavailable", "service_unavailable"}
TERMINAL = {"completed", "missed", "cancelled"}


@dataclass
class Report:
    scenario: str
    figures: dict[str, Any] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)

    def add(self, violation: str) -> None:
        self.violations.append(violation)

    def summary(self) -> str:
        lines = [f"[{self.scenario}] " + ", ".join(f"{k}={v}" for k, v in self.figures.items())]
        lines += [f"  VIOLATION: {v}" for v in self.violations]
        return "\n".join(lines)

    def save(self) -> None:
        """Written to $FAULTS_REPORT_DIR (if set) so the figures can be collected after a run."""
        directory = os.environ.get("FAULTS_REPORT_DIR")
        if directory:
            Path(directory).mkdir(parents=True, exist_ok=True)
            (Path(directory) / f"{self.scenario}.json").write_text(json.dumps(asdict(self), indent=2, default=str))


def check_answers(records: list[Record], report: Report) -> None:
    """Every answer: never 500, never past the bound, a 503 carries a known code (and Retry-After)."""
    for r in records:
        if r.status is None:
            report.add(f"no answer within 20 s: {r.brief()}")
            continue
        if r.status >= 500 and r.status != 503:
            report.add(f"answered {r.status}: {r.brief()} body={r.body}")
        if r.status == 503:
            code = r.body.get("error") if isinstance(r.body, dict) else None
            if code not in UNAVAILABLE_CODES:
                report.add(f"503 with unexpected body: {r.brief()} body={r.body}")
            if code == "temporarily_unavailable" and not r.retry_after:
                report.add(f"503 temporarily_unavailable without Retry-After: {r.brief()}")
        if r.elapsed > ANSWER_BOUND:
            report.add(f"answered after {r.elapsed:.1f}s (bound {ANSWER_BOUND}s): {r.brief()}")


def check_keyed_retries(retried: list[tuple[Record, Record, Record]], report: Report) -> int:
    """A keyed request that failed, retried with its key after recovery: 2xx, and the same answer again."""
    for original, retry, repeat in retried:
        same = (retry.status, retry.body) == (repeat.status, repeat.body)
        if not retry.ok or not same:
            report.add(
                f"keyed retry of [{original.brief()}]: {retry.brief()}, repeated: {repeat.brief()}"
                + ("" if same or retry.status != repeat.status else " (same status, different body)")
            )
    return len(retried)


async def converge(cluster: Cluster, session_ids: list[UUID], *, within: float) -> float | None:
    """Wait until no message is queued/sending and every terminal row's workflow is closed.
    Returns the time it took, or None when the bound passed (the caller reports it)."""
    assert cluster.pool is not None and cluster.client is not None
    started = time.monotonic()
    while time.monotonic() - started < within:
        try:
            busy = await cluster.pool.fetchval(
                "SELECT count(*) FROM outbound_messages WHERE session_id = ANY($1) AND status IN ('queued','sending')",
                session_ids,
            )
            rows = await cluster.pool.fetch(
                "SELECT id FROM scheduled_sessions WHERE id = ANY($1) AND status = ANY($2)",
                session_ids,
                list(TERMINAL),
            )
            open_ = 0
            for row in rows:
                description = await cluster.client.get_workflow_handle(session_workflow_id(row["id"])).describe()
                open_ += description.status == WorkflowExecutionStatus.RUNNING
            if busy == 0 and open_ == 0:
                return time.monotonic() - started
        except Exception:  # a dependency may still be coming back
            pass
        await asyncio.sleep(0.5)
    return None


async def check(cluster: Cluster, records: list[Record], session_ids: list[UUID], report: Report) -> Report:
    """All invariants; figures and violations go into ``report``."""
    assert cluster.pool is not None and cluster.client is not None
    check_answers(records, report)
    statuses = Counter(r.status for r in records)
    report.figures |= {
        "sent": len(records),
        "answered_2xx": sum(r.ok for r in records),
        "answered_503": statuses.get(503, 0),
        "no_answer": statuses.get(None, 0),
        "other_errors": {str(k): v for k, v in statuses.items() if k is not None and k != 503 and k >= 300},
        "max_answer_s": round(max((r.elapsed for r in records), default=0.0), 2),
    }
    applied, duplicates = await _check_applied(cluster, records, session_ids, report)
    report.figures["applied"] = applied
    report.figures["duplicate_events"] = duplicates
    report.figures |= await _check_messages(cluster, session_ids, report)
    report.figures["duplicate_calendar_events"] = _check_calendar(cluster, session_ids, report)
    report.figures["split_states"] = await _check_workflows(cluster, session_ids, report)
    report.figures["restarts"] = {k: v for k, v in cluster.restarts.items() if v}
    report.figures["boot_s"] = cluster.boot_s
    return report


async def _check_applied(
    cluster: Cluster, records: list[Record], session_ids: list[UUID], report: Report
) -> tuple[int, int]:
    """2xx → applied exactly once; an error without Idempotency-Key → not applied."""
    assert cluster.pool is not None
    rows = await cluster.pool.fetch(
        "SELECT session_id, event_type, idempotency_key, extract(epoch FROM created_at) AS at"
        " FROM learning_events WHERE session_id = ANY($1)",
        session_ids,
    )
    events: dict[tuple[UUID, str], list[str]] = defaultdict(list)
    commit_times: dict[tuple[UUID, str], list[float]] = defaultdict(list)
    for row in rows:
        events[(row["session_id"], row["event_type"])].append(row["idempotency_key"] or "")
        commit_times[(row["session_id"], row["event_type"])].append(float(row["at"]))
        if not (row["idempotency_key"] or "").startswith(f"transition:{row['session_id']}:"):
            report.add(f"event without transition key: {dict(row)}")
    by_request: dict[tuple[UUID, str], list[Record]] = defaultdict(list)
    for r in records:
        by_request[(r.session_id, r.action)].append(r)
    applied = duplicates = 0
    for (session_id, action), answers in by_request.items():
        logical: dict[str, list[Record]] = defaultdict(list)
        for i, r in enumerate(answers):
            logical[r.idempotency_key or f"unkeyed-{i}"].append(r)
        ok = sum(any(r.ok for r in group) for group in logical.values())
        keyed_failed = sum(
            1 for key, group in logical.items() if not key.startswith("unkeyed") and not any(r.ok for r in group)
        )
        count = len(events.get((session_id, EVENT_OF[action]), []))
        applied += count
        briefs = "; ".join(r.brief() for r in answers)
        if count < ok:
            report.add(f"answered 2xx but not applied ({count} events for {ok} 2xx): {briefs}")
        elif count > ok + keyed_failed:
            # The one allowed case: the transaction committed while its caller still waited, and the
            # answer was lost (the worker or the database died between commit and reply). Never later.
            lost = [
                r
                for group_key, group in logical.items()
                if group_key.startswith("unkeyed")
                for r in group
                if not r.ok
                and any(
                    r.sent_wall <= at <= r.sent_wall + ACTION_ANSWER_WITHIN
                    for at in commit_times[(session_id, EVENT_OF[action])]
                )
            ]
            if action == "withdraw":
                # A withdrawal that reached the consent workflow before its deadline is decided there;
                # if Postgres is down it is applied when Postgres is back, after its caller got 503
                # (documented in docs/reliability.md; a keyed retry gets the outcome).
                lost += [r for group_key, group in logical.items() if group_key.startswith("unkeyed")
                         for r in group if r.status == 503]  # fmt: skip
            if count > ok + keyed_failed + len(lost):
                duplicates += count - ok
                report.add(f"applied {count}x for {ok} 2xx answers (caller got an error, or a duplicate): {briefs}")
            else:
                report.figures["answers_lost_after_commit"] = report.figures.get("answers_lost_after_commit", 0) + len(
                    lost
                )
    return applied, duplicates


def _message_key(destination: str, campaign: str, params: list[str]) -> tuple[str, str, tuple[str, ...]]:
    return destination.lstrip("+"), campaign, tuple(params)


async def _check_messages(cluster: Cluster, session_ids: list[UUID], report: Report) -> dict[str, Any]:
    """Each outbox message reaches AiSensy at most once; a 'sent' one exactly once."""
    assert cluster.pool is not None
    rows = await cluster.pool.fetch(
        "SELECT idempotency_key, status, template_name, destination, template_params FROM outbound_messages"
        " WHERE session_id = ANY($1)",
        session_ids,
    )
    keys = Counter(r["idempotency_key"] for r in rows)
    for key, n in keys.items():
        if n > 1:
            report.add(f"outbox idempotency key used {n} times: {key}")
    received = Counter(
        _message_key(m["destination"], m["campaignName"], m.get("templateParams", [])) for m in cluster.aisensy.messages
    )
    duplicates = 0
    for key, n in received.items():
        if n > 1:
            duplicates += n - 1
            report.add(f"AiSensy received the same message {n} times: {key[:2]}")
    by_key = {_message_key(r["destination"], r["template_name"], r["template_params"]): r for r in rows}
    for key, row in by_key.items():
        got = received.get(key, 0)
        if row["status"] == "sent" and got != 1:
            report.add(f"outbox says sent but AiSensy received it {got} times: {row['idempotency_key']}")
        if row["status"] in ("queued", "failed") and got:
            report.add(f"outbox says {row['status']} but AiSensy received it: {row['idempotency_key']}")
    unknown = [k for k in received if k not in by_key]
    if unknown:
        report.add(f"{len(unknown)} AiSensy messages match no outbox row")
    return {
        "messages": dict(Counter(r["status"] for r in rows)),
        "duplicate_messages": duplicates,
    }


def _check_calendar(cluster: Cluster, session_ids: list[UUID], report: Report) -> int:
    """One Google event per session at most (ids are derived from the session id)."""
    ours = {s.hex for s in session_ids}
    per_session = Counter(event_id for (_, event_id) in cluster.calendar.events)
    foreign = [e for e in per_session if e not in ours]
    if foreign:
        report.add(f"{len(foreign)} calendar events with ids that are no session's: {foreign[:3]}")
    duplicates = sum(n - 1 for n in per_session.values() if n > 1) + len(foreign)
    return duplicates


async def _check_workflows(cluster: Cluster, session_ids: list[UUID], report: Report) -> int:
    """The SessionWorkflow and the row agree; a terminal row has a closed workflow.

    A disagreement is looked at again (3 times, 1 s apart) before it counts: an update still in
    flight can land between reading the row and querying the workflow. Only a lasting split counts.
    """
    splits = 0
    for session_id in session_ids:
        problem = None
        for attempt in range(SPLIT_RECHECKS):
            if attempt:
                await asyncio.sleep(1.0)
            problem = await _disagreement(cluster, session_id)
            if problem is None:
                break
        if problem is not None:
            splits += 1
            report.add(problem)
    return splits


SPLIT_RECHECKS = 3


# A workflow whose task failed while a dependency was down (its codec reads children's data keys from
# PostgreSQL) answers queries "not ready" until Temporal's retry of the task succeeds: asked again.
NOT_READY_WITHIN = 45.0


async def _query_when_ready(handle: Any) -> Any:
    deadline = asyncio.get_running_loop().time() + NOT_READY_WITHIN
    while True:
        try:
            return await handle.query(SessionWorkflow.session)
        except RPCError as error:
            if "Workflow Task in failed state" not in str(error) or asyncio.get_running_loop().time() > deadline:
                raise
        await asyncio.sleep(1.0)


async def _disagreement(cluster: Cluster, session_id: UUID) -> str | None:
    assert cluster.pool is not None and cluster.client is not None
    handle = cluster.client.get_workflow_handle(session_workflow_id(session_id), result_type=SessionWorkflowResult)
    try:
        description = await handle.describe()
    except RPCError:
        description = None
    state = None
    if description is not None and description.status == WorkflowExecutionStatus.RUNNING:
        state = await _query_when_ready(handle)
    row = await cluster.pool.fetchrow(
        "SELECT status, cancellation_status FROM scheduled_sessions WHERE id = $1", session_id
    )
    assert row is not None
    here = f"{row['status']}/{row['cancellation_status']}"
    if description is None:
        untouched = (row["status"], row["cancellation_status"]) == ("pending", "none")
        return None if untouched else f"row {session_id} is {here} but has no workflow"
    if description.status == WorkflowExecutionStatus.RUNNING:
        assert state is not None
        if (state.status, state.cancellation_status) != (row["status"], row["cancellation_status"]):
            return f"split: row {session_id} {here} vs workflow {state.status}/{state.cancellation_status}"
        if row["status"] in TERMINAL:
            return f"row {session_id} is {row['status']} but its workflow is still running"
        return None
    if description.status == WorkflowExecutionStatus.COMPLETED:
        final = (await handle.result()).final_status
        return None if final == row["status"] else f"split: row {session_id} {here} vs closed workflow {final}"
    status_name = description.status.name if description.status else "unknown"
    return f"workflow of {session_id} ended {status_name} (row {here})"
