"""Domain failures with stable machine codes.

The same code travels as the ``type`` of a Temporal ``ApplicationError`` (activity → workflow → update
caller) and as the ``error`` field of the HTTP answer; ``api/errors.py`` holds the one code → status table.
"""

from typing import Any


class ErrorCode:
    SESSION_NOT_FOUND = "session_not_found"
    NOT_FOUND = "not_found"
    SESSION_LOCKED = "session_locked"
    INVALID_STATUS = "invalid_status"
    SESSION_NOT_STARTED = "session_not_started"
    CANCELLATION_PENDING = "cancellation_pending"
    NO_CANCELLATION_PENDING = "no_cancellation_pending"
    PARENT_CONSENT_REQUIRED = "parent_consent_required"
    TIME_IN_PAST = "time_in_past"
    # A coach's reschedule or cancellation request inside COACH_MIN_NOTICE of the session's start.
    INSIDE_MINIMUM_NOTICE = "inside_minimum_notice"
    CONFLICT = "conflict"
    VALIDATION_ERROR = "validation_error"
    MALFORMED_PAYLOAD = "malformed_payload"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    # The request line and headers are over the server's limit (api/http_protocol.py).
    HEADERS_TOO_LARGE = "headers_too_large"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    # A signed-in page's unsafe request without its session's X-CSRF-Token, or from another origin.
    CSRF_FAILED = "csrf_failed"
    SERVICE_UNAVAILABLE = "service_unavailable"
    # The action got no answer within the bound (no worker, a dependency down): it was not applied and
    # will not be applied later; retry (with the same Idempotency-Key, to be safe).
    TEMPORARILY_UNAVAILABLE = "temporarily_unavailable"
    ENROLLMENT_EXISTS = "enrollment_exists"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    # Another copy of this keyed request still runs the action past the answer bound: retry for its outcome.
    IDEMPOTENCY_KEY_IN_PROGRESS = "idempotency_key_in_progress"
    BRIEF_UNAVAILABLE = "brief_unavailable"
    # An ops desk action on a row that changed since the admin saw it (or whose state allows no such action).
    ROW_CHANGED = "row_changed"
    INTERNAL_ERROR = "internal_error"


KNOWN_CODES = frozenset(value for name, value in vars(ErrorCode).items() if name.isupper())


class DomainError(Exception):
    """A business rule refused the request. ``extra`` carries machine-readable context."""

    def __init__(self, code: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.extra = extra


class NotFound(DomainError):
    def __init__(self, what: str = "session", code: str = ErrorCode.SESSION_NOT_FOUND) -> None:
        super().__init__(code, f"No such {what}, or it is not yours.")
