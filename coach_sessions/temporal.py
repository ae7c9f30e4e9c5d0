"""Temporal set-up shared by worker, API and tests: data converter, search attributes, client, and
every workflow id (one function each: ops find a session's workflows in the UI by these)."""

import dataclasses
import re
from uuid import UUID

from temporalio.client import Client
from temporalio.common import SearchAttributeKey
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes

from coach_sessions.data_key_codec import DataKeyCodec, DataKeys
from coach_sessions.payload_codec import EncryptionCodec, Keyring
from coach_sessions.repositories.data_keys import DataKeyRepository
from coach_sessions.settings import Settings


def converter_for(keyring: Keyring | None, data_keys: DataKeyRepository | None = None) -> DataConverter:
    """The pydantic converter underneath, the AES-GCM codec on top (no keyring: plaintext, not production).

    With ``data_keys`` a child's workflows are sealed with the child's own data key (crypto-shredding,
    coach_sessions/data_key_codec.py); without, everything with the master key (the saved test
    histories, which must decode with no database).

    Failures' messages and stack traces are moved into an encoded payload too (Temporal's "encoded
    attributes"), so an error that quotes a note does not sit in history in plaintext; the SDK restores
    them on decode, and the UI shows them through the codec endpoint.
    """
    if keyring is None:
        return pydantic_data_converter
    master = EncryptionCodec(keyring)
    codec = DataKeyCodec(DataKeys(master, data_keys, workflow_subject)) if data_keys else master
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=codec,
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


def data_converter(settings: Settings) -> DataConverter:
    """The one data converter of every process that talks to Temporal: worker, API, CLI, devtools, tests."""
    return converter_for(settings.payload_keyring(), DataKeyRepository(settings.database_url))


# Typed search attributes (no PII: ids, numbers and statuses only). Registered on the dev server by
# `make run`, in docker-compose by a one-shot job, and on the test server by the test fixtures.
CHILD_ID = SearchAttributeKey.for_keyword("ChildId")
COACH_ID = SearchAttributeKey.for_keyword("CoachId")
SESSION_NUMBER = SearchAttributeKey.for_int("SessionNumber")
SESSION_STATUS = SearchAttributeKey.for_keyword("SessionStatus")
SEARCH_ATTRIBUTE_KEYS = (CHILD_ID, COACH_ID, SESSION_NUMBER, SESSION_STATUS)


async def connect(settings: Settings, *, address: str | None = None, namespace: str | None = None) -> Client:
    """A client with ``data_converter(settings)``, at TEMPORAL_ADDRESS/NAMESPACE unless told otherwise."""
    return await Client.connect(
        address or settings.temporal_address,
        namespace=namespace or settings.temporal_namespace,
        data_converter=data_converter(settings),
    )


def session_workflow_id(session_id: object) -> str:
    return f"session-{session_id}"


def enrollment_workflow_id(enrollment_id: object) -> str:
    return f"enrollment-{enrollment_id}"


def session_brief_workflow_id(session_id: object) -> str:
    return f"session-brief-{session_id}"


def embed_events_workflow_id(child_id: object) -> str:
    return f"embed-events-{child_id}"


def consent_workflow_id(session_id: object, request_number: int) -> str:
    """The consent child of a session's ``request_number``-th cancellation request (stored on the row)."""
    return f"consent-{session_id}-{request_number}"


def message_delivery_workflow_id(message_id: object) -> str:
    """The delivery of one queued message started outside a session workflow (a late-reply notice)."""
    return f"deliver-{message_id}"


def reassignment_workflow_id(reassignment_id: object) -> str:
    """A child's move to another coach (one per reassignment: a repeated request attaches to it)."""
    return f"reassignment-{reassignment_id}"


def child_erasure_workflow_id(child_id: object) -> str:
    """The erasure of one child (one per child: concurrent DELETEs attach to it)."""
    return f"erase-child-{child_id}"


_UUID = r"([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})"
# The ids above that belong to one child, and what their uuid names. The erasure's own workflow is not
# among them on purpose: it must still run (and be read) after the child's key is shredded.
_SUBJECTS = (
    (re.compile(rf"session-brief-{_UUID}"), "session"),
    (re.compile(rf"session-{_UUID}"), "session"),
    (re.compile(rf"consent-{_UUID}-[0-9]+"), "session"),
    (re.compile(rf"enrollment-{_UUID}"), "enrollment"),
    (re.compile(rf"deliver-{_UUID}"), "message"),
    (re.compile(rf"embed-events-{_UUID}"), "child"),
)


def workflow_subject(workflow_id: str) -> tuple[str, UUID] | None:
    """What a child's workflow id names ("session", "enrollment", "message" or "child", and its id);
    None for a workflow that is not one child's."""
    for pattern, kind in _SUBJECTS:
        match = pattern.fullmatch(workflow_id)
        if match:
            return kind, UUID(match.group(1))
    return None
