"""The WhatsApp message an action would send the parent, shown before the coach sends it.

Read-only: the session and its earlier siblings are read without locks, and the action's own rule
(``transitions.plan``) runs on them as its transaction would, so the preview names the same template,
renders the same text (``coach_sessions.parent_messages``) and refuses what the action would refuse.
It writes nothing, starts no workflow and sends nothing.
"""

from collections.abc import Callable
from datetime import datetime, timedelta

from api.message_bodies import MessagePreviewBody, PreviewReschedule
from api.services.access import visible_session
from coach_sessions import parent_messages, rules
from coach_sessions.auth import Principal
from coach_sessions.contracts import Actor, SessionAction, TransitionRequest
from coach_sessions.errors import DomainError, ErrorCode
from coach_sessions.parent_messages import MessagePreview
from coach_sessions.repositories.sessions import SessionRepository
from coach_sessions.scheduling import local_datetime
from coach_sessions.transitions import plan

_ACTIONS = {
    "complete": SessionAction.COMPLETE,
    "missed": SessionAction.MARK_MISSED,
    "reschedule": SessionAction.RESCHEDULE,
    "request-cancel": SessionAction.REQUEST_CANCELLATION,
    "cancel": SessionAction.CANCEL,
}


class MessagePreviewService:
    def __init__(
        self,
        sessions: SessionRepository,
        *,
        consent_window: timedelta,
        minimum_notice: timedelta,
        clock: Callable[[], datetime],
    ) -> None:
        self._sessions = sessions
        self._consent_window = consent_window
        self._minimum_notice = minimum_notice
        self._clock = clock

    async def preview(self, principal: Principal, body: MessagePreviewBody) -> MessagePreview:
        record = await visible_session(self._sessions, principal, body.session_id)  # 404 for another's
        # The role refusals SessionService gives before the workflow (the rest come from plan()).
        if body.action == "cancel" and not principal.is_admin:
            raise DomainError(
                ErrorCode.PARENT_CONSENT_REQUIRED,
                "Coaches cancel with the parent's consent: preview action request-cancel.",
            )
        if body.action == "request-cancel" and principal.is_admin:
            raise DomainError(ErrorCode.FORBIDDEN, "Admins cancel directly: preview action cancel.")
        siblings, people = await self._sessions.read_through(record.id)
        row = dict(siblings[-1])
        now = self._clock()
        fields = body.model_dump()  # the fields this action's shape has (the others are not sent)
        message = fields.get("parent_message") or None  # blank: none, as the action reads it
        new_at = None
        if isinstance(body, PreviewReschedule):
            new_at = local_datetime(body.new_date, body.new_time.replace(tzinfo=None), people["coach_timezone"])
        given_notify = fields.get("notify_parent")
        request = TransitionRequest(
            session_id=record.id,
            action=_ACTIONS[body.action],
            request_id="preview",
            actor=Actor(id=principal.id, role=principal.role.value),
            now=now,
            parent_message=message,
            notify_parent=parent_messages.notify_parent(given_notify, message, record.ends_at, now),
            new_scheduled_at=new_at,
            reason=fields.get("reason"),
            consent_window=self._consent_window,
            minimum_notice=self._minimum_notice,
        )
        if request.action is SessionAction.MARK_MISSED and not request.notify_parent:
            request = request.model_copy(update={"parent_message": None})  # as SessionService sends it
        blocking = rules.blocking_session_number(
            row["session_number"], [(s["session_number"], s["status"]) for s in siblings]
        )
        change = plan(request, row, blocking, people["coach_timezone"])
        # The messages render from the row as the transition leaves it (a reschedule's new time).
        return parent_messages.preview(body.action, request, change.messages, row | change.columns, people)
