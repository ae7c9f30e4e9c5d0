"""Schemathesis against the real API (uvicorn, Postgres, Temporal test server, worker) — the runner.

Every operation of ``/openapi.json`` gets positive and negative cases, each sent once with a coach's
token and once with an admin's, every built-in check on every answer. UUIDs are drawn mostly from
rows that exist (the coach's own sessions, children, parents), so the session actions really run
through their workflows; webhook bodies are signed after generation, as AiSensy signs them.
Synchronous (Hypothesis + requests): the test runs it in a thread while its event loop serves.
"""

import json
import os
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import requests
import schemathesis
import schemathesis.specs.openapi.schemas  # see the note below
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi import checks as openapi_checks

from api.schemas import TIMEZONE_FORMAT, iana_zones
from coach_sessions.whatsapp_inbound import SIGNATURE_HEADER, sign

# Imported at collection, not lazily by from_dict(): on CPython 3.11.7 a RecursionError (the deep-JSON
# tests raise some) leaves ast.parse broken for the rest of the process ("AST constructor recursion
# depth mismatch", CPython gh-106905), and pytest's assertion rewriting parses each module it imports.

WEBHOOK_PATH = "/api/webhooks/aisensy/cancel-response"

# Every built-in response check. The stateful ones (use_after_free, ensure_resource_availability,
# object_level_authorization) need a recorded scenario and pass trivially on single calls.
CHECKS = [
    not_a_server_error,
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_headers_conformance,
    openapi_checks.response_schema_conformance,
    openapi_checks.negative_data_rejection,
    openapi_checks.missing_required_header,
    openapi_checks.unsupported_method,
    openapi_checks.allow_header_conformance,
    openapi_checks.ignored_auth,
    openapi_checks.use_after_free,
    openapi_checks.ensure_resource_availability,
]


# Deliberate exceptions, each for a reason the document states:
# - the webhook answers any signed JSON 200 "ignored" (so the provider stops retrying), even shapes
#   its schema does not describe;
# - GET /api/sessions takes exactly one of childId / sessionId, and GET /api/coach/agenda from and to
#   together (to not before from, at most 31 days) and coachId from an admin: rules across query
#   parameters, which OpenAPI cannot express (each operation's description says so).
# - DELETE /api/sessions takes sessionId and reason from its JSON body (preferred) or from the query:
#   neither, or both forms with different values, is a 422 that OpenAPI cannot express either.
SKIP_NEGATIVE_REJECTION = {("POST", WEBHOOK_PATH)}
EXCLUSIVE_QUERY = {("GET", "/api/sessions"), ("GET", "/api/coach/agenda")}
TWO_FORMS = ("DELETE", "/api/sessions")


def _neither_form_or_both_differing(case: schemathesis.Case) -> bool:
    query = case.query or {}
    if not isinstance(case.body, dict):  # no body (or JSON null): the query form, whole or not at all
        return not ("sessionId" in query and "reason" in query)
    return any(name in query and str(query[name]) != str(case.body.get(name)) for name in ("sessionId", "reason"))


def refused_valid_data(case: schemathesis.Case, response: Any) -> str | None:
    """Schemathesis' positive_data_acceptance, but a refusal by a *rule* (time_in_past, a state) is not
    a schema lie; a 422 ``validation_error`` for schema-valid data is."""
    if response.status_code != 422 or (case.method, case.path) in EXCLUSIVE_QUERY:
        return None
    if (case.method, case.path) == TWO_FORMS and _neither_form_or_both_differing(case):
        return None
    body = response.json()
    return f"schema-valid data refused: {response.text[:400]}" if body.get("error") == "validation_error" else None


def examples_per_operation() -> int:
    """Bounded for ``make test`` (about a minute here); ``make fuzz`` raises it with FUZZ_EXAMPLES."""
    return int(os.environ.get("FUZZ_EXAMPLES", "25"))


FUZZ_SEED = int(os.environ.get("FUZZ_SEED", "20261126"))


class SigningSession(requests.Session):
    """Signs the exact bytes a webhook request carries, like the provider does."""

    def __init__(self, webhook_secret: str) -> None:
        super().__init__()
        self._secret = webhook_secret

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if (request.path_url or "").startswith(WEBHOOK_PATH):
            body = request.body or b""
            raw = body.encode() if isinstance(body, str) else body
            assert isinstance(raw, bytes), "schemathesis sends prepared (in-memory) bodies"
            request.headers[SIGNATURE_HEADER] = "sha256=" + sign(self._secret, raw)
        return super().send(request, **kwargs)


@dataclass
class FuzzReport:
    cases: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


@dataclass
class Target:
    base_url: str
    tokens: dict[str, str]
    session: SigningSession
    report: FuzzReport


def run(
    base_url: str,
    openapi: dict[str, Any],
    *,
    tokens: dict[str, str],
    known_ids: list[str],
    webhook_secret: str,
    examples: int,
) -> FuzzReport:
    schemathesis.openapi.format("uuid", st.sampled_from(known_ids) | st.uuids().map(str))
    schemathesis.openapi.format(TIMEZONE_FORMAT, st.sampled_from(iana_zones()))
    schema = schemathesis.openapi.from_dict(openapi)
    target = Target(base_url, tokens, SigningSession(webhook_secret), FuzzReport())
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]  # an invalid document raises here, as it should
        for mode in GenerationMode:
            checks = CHECKS
            if (operation.method.upper(), operation.path) in SKIP_NEGATIVE_REJECTION:
                checks = [c for c in CHECKS if c is not openapi_checks.negative_data_rejection]
            _fuzz_operation(target, operation, mode, checks, examples)
    return target.report


def _fuzz_operation(target: Target, operation: Any, mode: GenerationMode, checks: list[Any], examples: int) -> None:
    @seed(FUZZ_SEED)
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: a failure is recorded, not minimised
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(mode))
    def exercise(case: schemathesis.Case) -> None:
        report = target.report
        for role, token in target.tokens.items():
            headers = {"Authorization": f"Bearer {token}"}
            response = case.call(base_url=target.base_url, session=target.session, headers=headers, timeout=20)
            report.cases += 1
            report.statuses[response.status_code] += 1
            where = f"{mode.value} {role} {case.method} {case.formatted_path} → {response.status_code}"
            if response.status_code >= 500:
                report.server_errors.append(f"{where}: {response.text[:300]}")
            if mode is GenerationMode.POSITIVE and (refusal := refused_valid_data(case, response)):
                report.failures.append(f"{where}: {refusal}")
            try:
                case.validate_response(
                    response,
                    checks=checks,
                    headers=headers,
                    transport_kwargs={"base_url": target.base_url, "session": target.session, "headers": headers},
                )
            except (Exception, BaseExceptionGroup) as failure:  # a FailureGroup names each failed check
                if mode is GenerationMode.NEGATIVE and "(was Authorization)" in str(failure):
                    # The mutation removed the bearer header, which this harness sends on every call: the
                    # request that went out is another one (often a valid one), so the case says nothing.
                    continue
                report.failures.append(f"{where}: {_first_lines(failure)}")

    try:
        exercise()
    except Unsatisfiable:
        pass  # nothing to get wrong in this mode (e.g. negative cases for /healthz, which takes no input)


def _first_lines(failure: BaseException, count: int = 12) -> str:
    return "\n".join(str(failure).splitlines()[:count])


def summary(report: FuzzReport) -> str:
    return json.dumps(
        {
            "cases": report.cases,
            "5xx": len(report.server_errors),
            "failures": len(report.failures),
            "statuses": dict(sorted(report.statuses.items())),
        }
    )
