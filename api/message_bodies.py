"""The message preview's body: an action as it would be sent, without sending it (its answer is
``coach_sessions.parent_messages.MessagePreview``).

One shape per action, told apart by ``action`` (a discriminated ``oneOf`` in OpenAPI), so the document
states exactly which fields each action takes and requires: what it accepts is what it says.
"""

from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field

from api.parent_text import NOTIFY_PARENT, PARENT_MESSAGE, REQUEST_REASON, RESCHEDULE_REASON, ParentMessage
from api.schemas import Body, Day, Flag, Reason, WallClock
from coach_sessions.parent_messages import MessagePreview


class _Preview(Body):
    session_id: UUID = Field(alias="sessionId")


class PreviewComplete(_Preview):
    action: Literal["complete"]
    parent_message: ParentMessage | None = Field(default=None, alias="parentMessage", description=PARENT_MESSAGE)


class PreviewMissed(_Preview):
    action: Literal["missed"]
    parent_message: ParentMessage | None = Field(default=None, alias="parentMessage", description=PARENT_MESSAGE)
    notify_parent: Flag | None = Field(default=None, alias="notifyParent", description=NOTIFY_PARENT)


class PreviewReschedule(_Preview):
    action: Literal["reschedule"]
    new_date: Day = Field(alias="newDate")
    new_time: WallClock = Field(alias="newTime")
    reason: Reason | None = Field(default=None, description=RESCHEDULE_REASON)


class PreviewRequestCancel(_Preview):
    action: Literal["request-cancel"]
    reason: Reason = Field(description=REQUEST_REASON)


class PreviewCancel(_Preview):
    action: Literal["cancel"]
    reason: Reason


MessagePreviewBody = Annotated[
    PreviewComplete | PreviewMissed | PreviewReschedule | PreviewRequestCancel | PreviewCancel,
    Field(discriminator="action"),
]

__all__ = ["MessagePreview"]
