"""The text fields of the session actions that reach a parent, and what each does with its text.

The difference matters to a coach, so it is in each field's OpenAPI description: ``notes`` stay
private; ``parentMessage`` and the reasons of a reschedule or a cancellation request are sent to the
parent word for word (docs/api.md, "What the parent reads").
"""

from typing import Annotated

from pydantic import StringConstraints

# A WhatsApp template parameter may hold no newline or tab and no run of more than four spaces (Meta
# refuses the whole message otherwise), and PostgreSQL text no NUL: the pattern states all of it. Empty
# (a form's blank field) means no message.
ParentMessage = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=500, pattern=r"^( {0,4}[^\x00-\x1f\x7f ])*$"),
]

NOTES = "Private: kept in the learning record and the session's coach_notes; never sent to the parent."
PARENT_MESSAGE = (
    "Sent to the parent word for word in the WhatsApp message (one line, up to 500 characters)."
    " Without it the parent gets the template's fixed text, never the notes."
)
RESCHEDULE_REASON = "Sent to the parent word for word in the reschedule notice (p25_session_rescheduled)."
REQUEST_REASON = "Sent to the parent word for word in the consent request (p26_cancellation_request)."
CANCEL_REASON = "Kept in coach_notes and the learning record; an admin's cancellation sends the parent no message."
NOTIFY_PARENT = (
    "Send the parent the no-show notice, which names the session's date. Absent: yes when parentMessage"
    " is given or the session ended within the last 48 hours, no for an older session. With false,"
    " parentMessage is not sent either."
)
