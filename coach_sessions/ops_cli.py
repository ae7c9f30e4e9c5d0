"""``python -m coach_sessions ops …``: the ops desk from a terminal (docs/operations.md, "The ops queue").

The same queue and the same audited actions as the desk's API (coach_sessions/repositories/ops_desk.py),
named by an admin's email. The CLI talks to PostgreSQL only: what must follow in Temporal (a resent
message's delivery, a calendar sync) is the reconciliation its transaction asks for, which an API
process's reconciler carries out within RECONCILE_EVERY. Answers are JSON on stdout; exit 1 when the
row changed or its state allows no such action, 3 when there is no such row or admin.
"""

import argparse
import json
import sys
from datetime import datetime
from typing import Any
from uuid import UUID

from coach_sessions.db import create_pool
from coach_sessions.repositories.ops_desk import OpsDeskRepository
from coach_sessions.repositories.principals import PrincipalRepository
from coach_sessions.repositories.retrying_activities import RetryingActivityRepository
from coach_sessions.settings import get_settings
from coach_sessions.statuses import Role

QUEUE_LIMIT = 200
MESSAGE_ACTIONS = {"resend": "resend", "mark-delivered": "mark_delivered", "drop": "drop"}


def _instant(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 time") from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError("give the offset too, as listed (…+00:00)")
    return value


def add_ops_commands(commands: Any) -> None:
    ops = commands.add_parser("ops", help="the ops queue and its actions (docs/operations.md)")
    verbs = ops.add_subparsers(dest="ops_command", required=True)
    verbs.add_parser("list", help="what needs a human now, as JSON")
    actions = verbs.add_parser("actions", help="the audit of desk actions, newest first")
    actions.add_argument("--limit", type=int, default=50, choices=range(1, 201), metavar="1..200")
    for verb, about in (
        ("resend", "queue an in_doubt or failed message again (the parent may get it twice)"),
        ("mark-delivered", "the message reached the person: sent, nothing is sent"),
        ("drop", "do not send the message: dropped"),
        ("retry-sync", "sync a session's failed calendar event again"),
    ):
        act = verbs.add_parser(verb, help=about)
        act.add_argument("target", type=UUID, help="the session's id" if verb == "retry-sync" else "the message's id")
        act.add_argument("--seen", type=_instant, required=True, help="its updated_at, as listed")
        act.add_argument(
            "--admin-email", required=True, help="who decides (an admin: python -m coach_sessions add-admin)"
        )
        act.add_argument("--note", help="why (kept in the audit row, at most 500 characters)")


async def run_ops(args: argparse.Namespace) -> int:
    settings = get_settings()
    pool = await create_pool(settings.database_url, min_size=1, max_size=2)
    try:
        desk = OpsDeskRepository(pool)
        if args.ops_command == "list":
            return _print(
                {
                    "retrying_activities": await RetryingActivityRepository(pool).listed(QUEUE_LIMIT),
                    **await desk.queue(QUEUE_LIMIT),
                }
            )
        if args.ops_command == "actions":
            return _print({"actions": await desk.recent_actions(args.limit)})
        admin = await PrincipalRepository(pool).by_email(args.admin_email)
        if admin is None or admin.role != Role.ADMIN:
            return _print({"error": "not_found", "detail": "No admin has this email."}, code=3)
        if args.note is not None and not 1 <= len(args.note.strip()) <= 500:
            return _print({"error": "validation_error", "detail": "--note is 1 to 500 characters."}, code=2)
        common = {"admin_id": admin.id, "channel": "cli", "seen_updated_at": args.seen, "note": args.note}
        if args.ops_command == "retry-sync":
            outcome = await desk.retry_calendar_sync(args.target, **common)  # type: ignore[arg-type]
        else:
            outcome = await desk.act_on_message(args.target, MESSAGE_ACTIONS[args.ops_command], **common)  # type: ignore[arg-type]
        if outcome is None:
            return _print({"error": "not_found", "detail": "No such row."}, code=3)
        answer = {"current_state": outcome.current_state, "current_updated_at": outcome.current_updated_at}
        if outcome.action is None:
            return _print({"error": "row_changed", **answer}, code=1)
        return _print({"action": outcome.action, "replayed": not outcome.created, **answer})
    finally:
        await pool.close()


def _print(document: dict[str, Any], code: int = 0) -> int:
    json.dump(document, sys.stdout, default=str, indent=2)
    sys.stdout.write("\n")
    return code
