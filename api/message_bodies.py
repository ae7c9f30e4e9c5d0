"""The message preview's body: an action as it would be sent, without sending it (its answer is
``coach_sessions.parent_messages.MessagePreview``)."""

from typing import Literal, Self
from uuid import UUID

from pydantic import Field, model_validator

from api.parent_text import NOTIFY_PARENT, PARENT_MESSAGE, ParentMessage, refuse_silent_message
from api.schemas import Body, Day, Flag, Reason, WallClock
from coach_sessions.parent_messages import MessagePreview

PreviewAction = Literal["complete", "missed", "reschedule", "request-cancel", "cancel"]


class MessagePreviewBody(Body):
    """The action as it would be sent; the fields an action does not take are refused for it."""

    session_id: UUID = Field(alias="sessionId")
    action: PreviewAction
    parent_message: ParentMessage | None = Field(default=None, alias="parentMessage", description=PARENT_MESSAGE)
    notify_parent: Flag | None = Field(default=None, alias="notifyParent", description=NOTIFY_PARENT)
    reason: Reason | None = None
    new_date: Day | None = Field(default=None, alias="newDate")
    new_time: WallClock | None = Field(default=None, alias="newTime")

    @model_validator(mode="after")
    def _fits_the_action(self) -> Self:
        takes = {
            "complete": {"parent_message"},
            "missed": {"parent_message", "notify_parent"},
            "reschedule": {"reason", "new_date", "new_time"},
            "request-cancel": {"reason"},
            "cancel": {"reason"},
        }[self.action]
        given = {name for name in ("parent_message", "notify_parent", "reason", "new_date", "new_time")}
        extra = sorted(name for name in given - takes if getattr(self, name) is not None)
        if extra:
            raise ValueError(f"{self.action} does not take {', '.join(extra)}")
        if self.action == "reschedule" and (self.new_date is None or self.new_time is None):
            raise ValueError("reschedule needs newDate and newTime")
        if self.action in ("request-cancel", "cancel") and self.reason is None:
            raise ValueError(f"{self.action} needs a reason")
        refuse_silent_message(self.notify_parent, self.parent_message)
        return self


__all__ = ["MessagePreview"]
