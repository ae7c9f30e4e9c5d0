"""One google-genai client per process, and its failures sorted into "try again" and "give up".

The SDK's own retries stay off (one attempt per call): Temporal's retry policy decides, with backoff
and a give-up time, so a retried activity never hides a second layer of retries.
"""

from google import genai
from google.genai import errors, types

from coach_sessions.logging import error_text
from coach_sessions.settings import Settings


class ModelUnavailableError(Exception):
    """429, 5xx or a transport failure: the same call may work later."""


class ModelRejectedError(Exception):
    """Any other 4xx (bad key, bad request), or an answer that is not what we asked for twice."""


def gemini_client(settings: Settings) -> genai.Client:
    options = types.HttpOptions(
        timeout=int(settings.gemini_timeout.total_seconds() * 1000),
        retry_options=types.HttpRetryOptions(attempts=1),
    )
    if settings.gemini_base_url:
        options.base_url = settings.gemini_base_url
    return genai.Client(api_key=settings.gemini_api_key, http_options=options)


def classify(error: Exception) -> Exception:
    """The error to raise for a failed Gemini call (the caller chains the original)."""
    if isinstance(error, errors.APIError):
        if error.code == 429 or error.code >= 500:
            return ModelUnavailableError(f"Gemini answered {error.code}: {error_text(str(error.message))}")
        return ModelRejectedError(f"Gemini answered {error.code}: {error_text(str(error.message))}")
    # httpx2 transport errors (refused, reset, timeout) and anything else below HTTP.
    return ModelUnavailableError(f"Gemini unreachable: {type(error).__name__}: {error_text(error)}")
