"""CancellationConsentWorkflow: a coach's cancellation waits for the parent (child of SessionWorkflow).

Sends the p26 template (buttons Approve / Reschedule / Call Me), then waits for the first decision:
the parent's tap (signal from the webhook), the coach's withdrawal or an admin's decision (signals
from the session workflow), or the auto-approve timer at ``expires_at``. The first one wins; the
session workflow applies it. "Call Me" notifies the coach and keeps waiting.
"""

from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from coach_sessions.contracts import (
        Actor,
        ConsentDecision,
        ConsentInput,
        ParentReply,
        SessionAction,
        TransitionRequest,
    )
    from coach_sessions.statuses import ConsentChoice, DecidedBy
    from workflows import patches
    from workflows.steps import apply_transition, deliver_message

PARENT = Actor(id=None, role="parent")


@workflow.defn
class CancellationConsentWorkflow:
    def __init__(self) -> None:
        self._decision: ConsentDecision | None = None
        self._callbacks: list[str] = []
        self._seen_replies: set[str] = set()

    @workflow.run
    async def run(self, request: ConsentInput) -> ConsentDecision:
        for message_id in request.request_message_ids:
            await deliver_message(message_id)
        while self._decision is None:
            try:
                await workflow.wait_condition(
                    lambda: self._decision is not None or bool(self._callbacks),
                    timeout=max(request.expires_at - workflow.now(), timedelta(0)),
                    timeout_summary="auto-approve cancellation",
                )
            except TimeoutError:
                self._decision = ConsentDecision(
                    outcome="approve",
                    decided_by=DecidedBy.AUTO,
                    actor=Actor(id=None, role="system"),
                    token="timer",
                )
                break
            while self._callbacks and self._decision is None:
                inbound_message_id = self._callbacks.pop(0)
                try:
                    await self._notify_coach_to_call(request, inbound_message_id)
                except (ActivityError, ApplicationError) as error:
                    if not workflow.patched(patches.CALLBACK_FAILURE_TOLERATED):
                        raise
                    # A failed "Call Me" notice must not end the consent process: the timer runs on.
                    workflow.logger.error(
                        "call-me notice failed", extra={"inbound_message_id": inbound_message_id, "error": str(error)}
                    )
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self._decision

    async def _notify_coach_to_call(self, request: ConsentInput, inbound_message_id: str) -> None:
        result = await apply_transition(
            TransitionRequest(
                session_id=request.session_id,
                action=SessionAction.PARENT_CALLBACK,
                request_id=f"callback:{inbound_message_id}",
                actor=PARENT,
                now=workflow.now(),
            )
        )
        for message_id in result.message_ids:
            await deliver_message(message_id)

    @workflow.signal
    def parent_reply(self, reply: ParentReply) -> None:
        if reply.inbound_message_id in self._seen_replies:
            return  # a duplicate delivery of the same tap
        self._seen_replies.add(reply.inbound_message_id)
        if self._decision is not None:
            return  # decided already: the first decision stands
        if reply.choice is ConsentChoice.CALL_ME:
            self._callbacks.append(reply.inbound_message_id)
            return
        self._decision = ConsentDecision(
            outcome="approve" if reply.choice is ConsentChoice.APPROVE else "reject",
            decided_by=DecidedBy.PARENT,
            actor=PARENT,
            token=reply.inbound_message_id,
        )

    @workflow.signal
    def decide(self, decision: ConsentDecision) -> None:
        """The coach's withdrawal or an admin's decision, forwarded by the session workflow."""
        if self._decision is None:
            self._decision = decision

    @workflow.query
    def decision(self) -> ConsentDecision | None:
        return self._decision
