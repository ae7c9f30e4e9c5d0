"""Turning domain failures into Temporal failures the workflow and the API understand."""

from collections.abc import Awaitable, Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from temporalio import activity
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from coach_sessions.errors import DomainError

# Failure types that are not domain errors (those use ErrorCode values as their type).
CALENDAR_REJECTED = "calendar_rejected"
MESSAGE_REJECTED = "message_rejected"
# A model (Gemini) refused the call or answered unusably twice: retrying will not help.
MODEL_REJECTED = "model_rejected"

P = ParamSpec("P")
R = TypeVar("R")


def domain_error_to_application_error(error: DomainError) -> ApplicationError:
    """BENIGN: a refusal is an expected outcome, so the SDK logs its failure at DEBUG (not a WARNING
    with a traceback) and counts no failure metric; the code and details travel unchanged."""
    return ApplicationError(
        error.detail, error.extra, type=error.code, non_retryable=True, category=ApplicationErrorCategory.BENIGN
    )


def business_failures_are_final(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """A refused action will be refused again: fail it at once instead of retrying."""

    @wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await fn(*args, **kwargs)
        except DomainError as error:
            # One line with the code: what an operator needs to see of an expected refusal.
            activity.logger.info("action refused", extra={"code": error.code, "detail": error.detail})
            raise domain_error_to_application_error(error) from error

    return wrapper
