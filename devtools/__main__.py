"""Development command line: ``python -m devtools seed-demo | mint-token --demo-coach [N] | --demo-admin |
sign-webhook BODY``. The production commands (``migrate``, ``reembed``, ``add-admin``, ``mint-token --sub``) are
``python -m coach_sessions``'s, which imports nothing from here (devtools/ is absent from the Docker image).
``make run`` loads the demo data and prints the first demo coach's token itself; ``make token`` prints it again."""

import argparse
import asyncio
import json
import sys
from uuid import UUID

from coach_sessions.auth import mint_token
from coach_sessions.db import create_pool
from coach_sessions.settings import get_settings
from coach_sessions.statuses import Role
from devtools.demo import DEMO_ADMIN_ID, DEMO_COACH_EMAILS, seed_demo


async def _seed_demo() -> None:
    from coach_sessions.temporal import connect

    settings = get_settings()
    pool = await create_pool(settings.database_url, min_size=1, max_size=2)
    try:
        client = await connect(settings)
        print(json.dumps(await seed_demo(pool, client, settings.temporal_task_queue)))
    finally:
        await pool.close()


async def _demo_coach_id(index: int) -> UUID:
    from coach_sessions.repositories.people import PeopleRepository

    pool = await create_pool(get_settings().database_url, min_size=1, max_size=1)
    try:
        coach = await PeopleRepository(pool).find_coach_by_email(DEMO_COACH_EMAILS[index])
    finally:
        await pool.close()
    if coach is None:
        sys.exit("demo data not loaded: run `python -m devtools seed-demo` first")
    return coach.id


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m devtools")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("seed-demo", help="load demo coaches, families and enrollments (once)")
    token = commands.add_parser(
        "mint-token", help="print a bearer token for a demo user (any other: python -m coach_sessions mint-token)"
    )
    who = token.add_mutually_exclusive_group(required=True)
    who.add_argument("--demo-coach", type=int, nargs="?", const=1, metavar="N", help="the Nth demo coach (default 1)")
    who.add_argument("--demo-admin", action="store_true", help="the demo admin")
    signer = commands.add_parser(
        "sign-webhook", help="print the X-AiSensy-Signature value for a body (AISENSY_WEBHOOK_SECRET)"
    )
    signer.add_argument("body", help="the exact raw JSON body that will be posted")
    args = parser.parse_args(argv)

    if args.command == "seed-demo":
        asyncio.run(_seed_demo())
    elif args.command == "sign-webhook":
        from coach_sessions.whatsapp_inbound import sign

        secret = get_settings().aisensy_webhook_secret
        if not secret:
            sys.exit("AISENSY_WEBHOOK_SECRET is not set")
        print("sha256=" + sign(secret, args.body.encode()))
    else:
        settings = get_settings()
        if args.demo_admin:
            subject, role = DEMO_ADMIN_ID, Role.ADMIN
        else:
            subject, role = asyncio.run(_demo_coach_id(args.demo_coach - 1)), Role.COACH
        print(
            mint_token(
                settings.auth_jwt_secret, subject, role, settings.auth_token_ttl, max_ttl=settings.auth_token_max_ttl
            )
        )


if __name__ == "__main__":
    main()
