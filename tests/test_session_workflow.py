"""SessionWorkflow on its own: the real workflow code with stub activities (no database, no providers).

In the manner of Temporal's money-transfer template worker tests: each stub records what the workflow
asked of it, so these tests pin the workflow's own decisions (timers, idempotency keys, validators,
side effects after the answer, the consent child) apart from the SQL behind the activities.
"""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest
from temporalio import activity
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle, WorkflowHistory, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from coach_sessions.contracts import (
    Actor,
    CompleteInput,
    ConsentDecision,
    ConsentInput,
    DeliverMessageInput,
    LoadSessionInput,
    LoadTimerSettingsInput,
    MarkPendingInput,
    RecordCalendarFailureInput,
    RequestCancellationInput,
    RescheduleInput,
    SessionAction,
    SessionTimerSettings,
    SessionWorkflowInput,
    SessionWorkflowResult,
    SyncCalendarInput,
    TimerMessageInput,
    TransitionRequest,
    TransitionResult,
    WithdrawCancellationInput,
)
from coach_sessions.errors import ErrorCode
from coach_sessions.models import SessionRecord
from coach_sessions.statuses import CalendarSyncStatus, CancellationStatus, SessionStatus
from tests.helpers import eventually
from workflows.consent import CancellationConsentWorkflow
from workflows.session import SessionWorkflow

COACH = Actor(id=uuid4(), role="coach")


@dataclass
class StubActivities:
    """An in-memory session row and a log of every activity call."""

    session: SessionRecord
    calls: list[tuple[str, object]] = field(default_factory=list)
    refuse_with: str | None = None
    timers: SessionTimerSettings = field(default_factory=SessionTimerSettings)
    messages_released: asyncio.Event = field(default_factory=asyncio.Event)
    committed: dict[str, TransitionResult] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.messages_released.set()

    @activity.defn(name="load_session")
    async def load_session(self, request: LoadSessionInput) -> SessionRecord:
        self.calls.append(("load_session", request.session_id))
        return self.session

    @activity.defn(name="mark_pending")
    async def mark_pending(self, request: MarkPendingInput) -> SessionRecord:
        self.calls.append(("mark_pending", request.now))
        self.session = self.session.model_copy(update={"status": "pending", "version": self.session.version + 1})
        return self.session

    @activity.defn(name="apply_transition")
    async def apply_transition(self, request: TransitionRequest) -> TransitionResult:
        self.calls.append(("apply_transition", (request.action, request.request_id)))
        if request.request_id in self.committed:  # as the repository answers a request it committed
            first = self.committed[request.request_id]
            return TransitionResult(session=self.session, message_ids=first.message_ids)
        if self.refuse_with:
            raise ApplicationError("refused by the stub", {"why": "test"}, type=self.refuse_with, non_retryable=True)
        update: dict[str, object] = {"version": self.session.version + 1}
        messages: list[UUID] = []
        sync = False
        if request.action is SessionAction.COMPLETE:
            update["status"], messages = "completed", [uuid4()]
        elif request.action is SessionAction.RESCHEDULE:
            update |= {"status": "rescheduled", "scheduled_at": request.new_scheduled_at}
            sync = True
        elif request.action is SessionAction.REQUEST_CANCELLATION:
            assert request.consent_window is not None
            update |= {
                "cancellation_status": "pending",
                "cancellation_expires_at": request.now + request.consent_window,
                "consent_workflow_id": f"consent-{self.session.id}-1",
            }
            messages = [uuid4()]
        elif request.action is SessionAction.WITHDRAW_CANCELLATION:
            update["cancellation_status"] = "none"
        self.session = self.session.model_copy(update=update)
        result = TransitionResult(session=self.session, message_ids=messages, calendar_sync_needed=sync)
        self.committed[request.request_id] = result
        return result

    @activity.defn(name="deliver_message")
    async def deliver_message(self, request: DeliverMessageInput) -> str:
        await self.messages_released.wait()
        self.calls.append(("deliver_message", request.message_id))
        return "sent"

    @activity.defn(name="sync_calendar")
    async def sync_calendar(self, request: SyncCalendarInput) -> str:
        self.calls.append(("sync_calendar", request.session_id))
        return "synced"

    @activity.defn(name="record_calendar_failure")
    async def record_calendar_failure(self, request: RecordCalendarFailureInput) -> None:
        self.calls.append(("record_calendar_failure", request.error))

    @activity.defn(name="load_timer_settings")
    async def load_timer_settings(self, _: LoadTimerSettingsInput) -> SessionTimerSettings:
        self.calls.append(("load_timer_settings", None))
        return self.timers

    @activity.defn(name="enqueue_timer_message")
    async def enqueue_timer_message(self, request: TimerMessageInput) -> UUID | None:
        self.calls.append(("enqueue_timer_message", request.key))
        return uuid4()

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]


def _session(starts_in: timedelta) -> SessionRecord:
    now = datetime.now(UTC)
    return SessionRecord(
        id=uuid4(),
        child_id=uuid4(),
        coach_id=uuid4(),
        enrollment_id=uuid4(),
        session_number=1,
        scheduled_at=now + starts_in,
        duration_minutes=45,
        status=SessionStatus.SCHEDULED,
        google_event_id="evt",
        meet_link=None,
        calendar_sync_status=CalendarSyncStatus.SYNCED,
        calendar_sync_error=None,
        coach_notes=None,
        cancellation_status=CancellationStatus.NONE,
        cancellation_requested_at=None,
        cancellation_reason=None,
        cancellation_expires_at=None,
        completed_at=None,
        created_at=now,
        updated_at=now,
        version=1,
    )


async def _settled(running: "Running") -> SessionRecord:
    for _ in range(200):
        record = await running.handle.query(SessionWorkflow.session)
        if record is not None and record.status == "pending":
            return record
        await asyncio.sleep(0.02)
    raise AssertionError("the session was not marked pending")


@dataclass
class Running:
    env: WorkflowEnvironment
    stubs: StubActivities
    handle: WorkflowHandle[SessionWorkflow, SessionWorkflowResult]


@pytest.fixture
async def running(temporal_env: WorkflowEnvironment, request: pytest.FixtureRequest) -> AsyncIterator[Running]:
    starts_in = getattr(request, "param", timedelta(hours=-1))
    stubs = StubActivities(_session(starts_in))
    task_queue = f"stub-{uuid4()}"
    async with Worker(
        temporal_env.client,
        task_queue=task_queue,
        workflows=[SessionWorkflow, CancellationConsentWorkflow],
        activities=[
            stubs.load_session,
            stubs.mark_pending,
            stubs.apply_transition,
            stubs.deliver_message,
            stubs.sync_calendar,
            stubs.record_calendar_failure,
            stubs.load_timer_settings,
            stubs.enqueue_timer_message,
        ],
    ):
        handle = await temporal_env.client.start_workflow(
            SessionWorkflow.run,
            SessionWorkflowInput(session_id=stubs.session.id),
            id=f"session-{stubs.session.id}",
            task_queue=task_queue,
        )
        yield Running(temporal_env, stubs, handle)


@pytest.mark.parametrize("running", [timedelta(hours=5)], indirect=True)
async def test_the_end_timer_marks_the_session_pending_once(running: Running) -> None:
    await running.env.sleep(timedelta(hours=5, minutes=30))  # started, not ended (45 min)
    assert "mark_pending" not in running.stubs.names()
    await running.env.sleep(timedelta(minutes=30))
    assert running.stubs.names().count("mark_pending") == 1
    assert (await running.handle.query(SessionWorkflow.session)).status == "pending"  # type: ignore[union-attr]


async def test_complete_uses_the_update_id_as_the_request_id_and_sends_after_answering(running: Running) -> None:
    running.stubs.messages_released.clear()  # hold the summary message until the answer is in
    record = await running.handle.execute_update(
        SessionWorkflow.complete, CompleteInput(actor=COACH, notes="great"), id="update-42"
    )
    assert record.status == "completed"
    assert ("apply_transition", (SessionAction.COMPLETE, "update-42")) in running.stubs.calls
    assert "deliver_message" not in running.stubs.names()  # the caller had its answer first
    running.stubs.messages_released.set()
    result = await running.handle.result()
    assert result.final_status == "completed"
    assert running.stubs.names().count("deliver_message") == 1


async def test_a_terminal_session_refuses_further_actions_before_any_activity(running: Running) -> None:
    running.stubs.messages_released.clear()  # keeps the workflow open after it completes
    await running.handle.execute_update(SessionWorkflow.complete, CompleteInput(actor=COACH))
    before = list(running.stubs.calls)
    for update, argument in [
        (SessionWorkflow.complete, CompleteInput(actor=COACH)),
        (
            SessionWorkflow.reschedule,
            RescheduleInput(actor=COACH, new_scheduled_at=datetime.now(UTC) + timedelta(days=2)),
        ),
        (
            SessionWorkflow.request_cancellation,
            RequestCancellationInput(actor=COACH, reason="ill", auto_approve_after=timedelta(hours=48)),
        ),
    ]:
        with pytest.raises(WorkflowUpdateFailedError) as refused:
            await running.handle.execute_update(update, argument)  # type: ignore[call-overload]
        assert isinstance(refused.value.cause, ApplicationError)
        assert refused.value.cause.type == ErrorCode.INVALID_STATUS
    assert running.stubs.calls == before  # the validator refused: no activity ran
    running.stubs.messages_released.set()
    await running.handle.result()


async def test_a_business_refusal_reaches_the_caller_with_its_code_and_changes_nothing(running: Running) -> None:
    running.stubs.refuse_with = ErrorCode.SESSION_LOCKED
    before = await _settled(running)  # loaded, and pending (its end has passed)
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await running.handle.execute_update(SessionWorkflow.complete, CompleteInput(actor=COACH))
    cause = refused.value.cause
    assert isinstance(cause, ApplicationError) and cause.type == ErrorCode.SESSION_LOCKED
    assert cause.details == ({"why": "test"},)
    assert running.stubs.names().count("apply_transition") == 1  # non-retryable: one attempt
    assert await running.handle.query(SessionWorkflow.session) == before


@pytest.mark.parametrize("running", [timedelta(days=2)], indirect=True)
async def test_a_reschedule_syncs_the_calendar_and_moves_the_end_timer(running: Running) -> None:
    new_at = datetime.now(UTC) + timedelta(days=5)
    record = await running.handle.execute_update(
        SessionWorkflow.reschedule, RescheduleInput(actor=COACH, new_scheduled_at=new_at)
    )
    assert record.status == "rescheduled"
    await running.env.sleep(timedelta(minutes=1))
    assert running.stubs.names().count("sync_calendar") == 1
    await running.env.sleep(timedelta(days=3))  # past the old end: no timer fires for it
    assert "mark_pending" not in running.stubs.names()


async def test_withdrawing_a_request_decides_the_consent_child(running: Running) -> None:
    record = await running.handle.execute_update(
        SessionWorkflow.request_cancellation,
        RequestCancellationInput(actor=COACH, reason="coach unwell", auto_approve_after=timedelta(hours=48)),
    )
    assert record.cancellation_status == "pending"
    consent = running.env.client.get_workflow_handle(record.consent_workflow_id or "", result_type=ConsentDecision)
    # At once: the answer came before the child started, and the withdrawal waits for it.
    record = await running.handle.execute_update(
        SessionWorkflow.withdraw_cancellation, WithdrawCancellationInput(actor=COACH)
    )
    assert record.cancellation_status == "none"
    assert (SessionAction.WITHDRAW_CANCELLATION, f"consent:{consent.id}") in [
        detail for name, detail in running.stubs.calls if name == "apply_transition"
    ]
    decision = await consent.result()
    assert decision.outcome == "withdraw"
    # A second withdrawal has nothing left to decide: the validator refuses it.
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await running.handle.execute_update(
            SessionWorkflow.withdraw_cancellation, WithdrawCancellationInput(actor=COACH)
        )
    assert isinstance(refused.value.cause, ApplicationError)
    assert refused.value.cause.type == ErrorCode.NO_CANCELLATION_PENDING


REQUEST = RequestCancellationInput(actor=COACH, reason="coach unwell", auto_approve_after=timedelta(hours=48))


def _event_types(history: WorkflowHistory) -> list[EventType.ValueType]:
    return [event.event_type for event in history.events]


async def test_a_cancellation_request_answers_before_its_consent_child_starts(running: Running) -> None:
    record = await running.handle.execute_update(SessionWorkflow.request_cancellation, REQUEST)
    assert record.cancellation_status == "pending"

    async def delivered() -> bool:
        return "deliver_message" in running.stubs.names()

    await eventually(delivered)
    events = (await running.handle.fetch_history()).events
    order = [event.event_type for event in events]
    answered = order.index(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED)
    child_started = order.index(EventType.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED)
    assert answered < child_started  # (before the patch: one workflow task later, after the start)
    # The parent's request is sent only once the child that takes the tap exists.
    [request_sent] = [
        i
        for i, event in enumerate(events)
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        and event.activity_task_scheduled_event_attributes.activity_type.name == "deliver_message"
    ]
    assert request_sent > child_started


async def test_a_keyed_retry_of_a_committed_request_starts_no_second_consent_child(running: Running) -> None:
    keyed = REQUEST.model_copy(update={"request_id": "key-7"})
    first = await running.handle.execute_update(SessionWorkflow.request_cancellation, keyed)
    again = await running.handle.execute_update(SessionWorkflow.request_cancellation, keyed)
    assert again.consent_workflow_id == first.consent_workflow_id and again.cancellation_status == "pending"
    withdrawn = await running.handle.execute_update(
        SessionWorkflow.withdraw_cancellation, WithdrawCancellationInput(actor=COACH)
    )
    assert withdrawn.cancellation_status == "none"
    order = _event_types(await running.handle.fetch_history())
    assert order.count(EventType.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED) == 1
    assert running.stubs.names().count("deliver_message") == 1


async def test_a_consent_child_that_cannot_start_lets_the_request_lapse(running: Running) -> None:
    # Another workflow already holds the id the request's child would take.
    taken = await running.env.client.start_workflow(
        CancellationConsentWorkflow.run,
        ConsentInput(
            session_id=running.stubs.session.id,
            request_message_ids=[],
            expires_at=datetime.now(UTC) + timedelta(days=9),
        ),
        id=f"consent-{running.stubs.session.id}-1",
        task_queue=f"nobody-{uuid4()}",
    )
    record = await running.handle.execute_update(SessionWorkflow.request_cancellation, REQUEST)
    assert record.cancellation_status == "pending"  # the answer came before the start was tried

    async def lapsed() -> bool:
        return (SessionAction.WITHDRAW_CANCELLATION, f"consent:{taken.id}") in [
            detail for name, detail in running.stubs.calls if name == "apply_transition"
        ]

    await eventually(lapsed)
    assert "deliver_message" not in running.stubs.names()  # nobody could take the parent's answer
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await running.handle.execute_update(
            SessionWorkflow.withdraw_cancellation, WithdrawCancellationInput(actor=COACH)
        )
    assert isinstance(refused.value.cause, ApplicationError)
    assert refused.value.cause.type == ErrorCode.NO_CANCELLATION_PENDING
    await taken.terminate()
