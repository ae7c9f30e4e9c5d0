"""The error bodies: one model per error code, ``{error, detail}`` plus the context that code carries.

This is the one home of an error's context fields. ``api/errors.py`` answers every error through
``body_of`` (a context field not declared here is dropped and logged, so a test that meets it fails),
and ``api/openapi.py`` puts these models in the document as shared components, so a generated
client parses each error into its own typed class.
"""

import logging
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from coach_sessions.errors import KNOWN_CODES, ErrorCode
from coach_sessions.statuses import CancellationStatus, SessionStatus

log = logging.getLogger("coach_sessions.api")


class FieldError(BaseModel):
    field: str = Field(description="The field, dotted (`eventData.wpm`), or `request`.")
    message: str


# The context each code carries, as (type, Field): what a raiser passes as DomainError extras.
CONTEXT: dict[str, dict[str, Any]] = {
    ErrorCode.VALIDATION_ERROR: {
        "fields": (
            list[FieldError],
            Field(default_factory=list, description="One entry per invalid field (absent for a rule across fields)."),
        ),
    },
    ErrorCode.INVALID_STATUS: {
        "current_status": (SessionStatus, Field(description="The session's status, which allows no such action.")),
    },
    ErrorCode.NO_CANCELLATION_PENDING: {
        "cancellation_status": (
            CancellationStatus | None,
            Field(description="The session's cancellation status (null: its workflow has not loaded it yet)."),
        ),
    },
    ErrorCode.SESSION_LOCKED: {
        "blocking_session_number": (int, Field(description="The earliest unresolved session before this one.")),
    },
    ErrorCode.SESSION_NOT_STARTED: {
        "scheduled_at": (datetime, Field(description="When the session starts.")),
    },
    ErrorCode.INSIDE_MINIMUM_NOTICE: {
        "notice_ends_at": (
            datetime,
            Field(description="A coach may move or cancel only the sessions starting after it (COACH_MIN_NOTICE)."),
        ),
    },
    ErrorCode.ROW_CHANGED: {
        "current_state": (str, Field(description="The row's state now (a message's status, a session's sync).")),
        "current_updated_at": (
            datetime,
            Field(description="The row's updated_at now: act again with it if still right."),
        ),
    },
    ErrorCode.ENROLLMENT_EXISTS: {
        "enrollment_id": (UUID, Field(description="The child's active enrollment with this coach.")),
    },
}


def model_name(code: str) -> str:
    """``invalid_status`` → ``InvalidStatusError``; ``validation_error`` → ``ValidationError``."""
    name = "".join(part.capitalize() for part in code.split("_"))
    return name if name.endswith("Error") else f"{name}Error"


def _model(code: str) -> type[BaseModel]:
    fields: dict[str, Any] = {
        "error": (Literal[code], Field(description="Stable machine code.")),
        "detail": (str, Field(description="A sentence for people.")),
        **CONTEXT.get(code, {}),
    }
    return create_model(
        model_name(code), __config__=ConfigDict(extra="forbid"), __doc__=f"The `{code}` error.", **fields
    )


ERROR_BODIES: dict[str, type[BaseModel]] = {code: _model(code) for code in sorted(KNOWN_CODES)}


def body_of(code: str, detail: str, context: dict[str, Any]) -> dict[str, Any]:
    """The JSON body of an error, checked against its model: a context field the model lacks (or of
    another type) is a bug, logged and left out, so the answer still matches the document."""
    model = ERROR_BODIES[code]
    try:
        return model.model_validate({"error": code, "detail": detail, **context}).model_dump(
            mode="json", exclude_unset=True
        )
    except ValidationError as error:
        # Where and what kind, not the values (a pydantic error's text quotes its input).
        problems = [{"loc": list(e.get("loc", ())), "type": e.get("type")} for e in error.errors()]
        log.error("undeclared error context", extra={"code": code, "fields": sorted(context), "error": problems})
        return {"error": code, "detail": detail}
