"""Turning domain failures into Temporal failures the workflow and the API understand."""

from collections.abc import Awaitable, Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from temporalio.exceptions import ApplicationError

from coach_sessions.errors import DomainError

# Failure types that are not domain errors (those use ErrorCode values as their type).
CALENDAR_REJECTED = "calendar_rejected"
MESSAGE_REJECTED = "message_rejected"
# A model (Gemini) refused the call or answered unusably twice: retrying will not help.
MODEL_REJECTED = "model_rejected"

P = ParamSpec("P")
R = TypeVar("R")


def domain_error_to_application_error(error: DomainError) -> ApplicationError:
    return ApplicationError(error.detail, error.extra, type=error.code, non_retryable=True)


def business_failures_are_final(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """A refused action will be refused again: fail it at once instead of retrying."""

    @wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await fn(*args, **kwargs)
        except DomainError as error:
            raise domain_error_to_application_error(error) from error

    return wrapper
