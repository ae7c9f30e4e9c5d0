"""Command line: ``python -m coach_sessions migrate | seed-demo | reembed | mint-token | sign-webhook``."""

import argparse
import asyncio
import json
import sys
from uuid import UUID

from coach_sessions.auth import mint_token
from coach_sessions.db import apply_migrations, create_pool
from coach_sessions.settings import get_settings
from coach_sessions.statuses import Role


async def _migrate() -> None:
    applied = await apply_migrations(get_settings().database_url)
    print(json.dumps({"applied": applied}))


async def _seed_demo() -> None:
    from coach_sessions.temporal import connect
    from devtools.demo import seed_demo

    settings = get_settings()
    pool = await create_pool(settings.database_url, min_size=1, max_size=2)
    try:
        client = await connect(settings.temporal_address, settings.temporal_namespace)
        print(json.dumps(await seed_demo(pool, client, settings.temporal_task_queue)))
    finally:
        await pool.close()


async def _reembed(batch_size: int) -> None:
    from tqdm import tqdm

    from coach_sessions.backfill import reembed
    from coach_sessions.providers.embeddings import build_embedding_provider

    settings = get_settings()
    provider = build_embedding_provider(settings)
    pool = await create_pool(settings.database_url, min_size=1, max_size=2)
    try:
        with tqdm(desc=f"embedding ({provider.model})", unit="event") as bar:

            def progress(done: int, total: int) -> None:
                bar.total = total
                bar.update(done - bar.n)

            embedded = await reembed(pool, provider, batch_size=batch_size, on_batch=progress)
    finally:
        await pool.close()
    print(json.dumps({"model": provider.model, "embedded": embedded}))


async def _demo_coach_id(index: int) -> UUID:
    from coach_sessions.repositories.people import PeopleRepository
    from devtools.demo import DEMO_COACH_EMAILS

    pool = await create_pool(get_settings().database_url, min_size=1, max_size=1)
    try:
        coach = await PeopleRepository(pool).find_coach_by_email(DEMO_COACH_EMAILS[index])
    finally:
        await pool.close()
    if coach is None:
        sys.exit("demo data not loaded: run `python -m coach_sessions seed-demo` first")
    return coach.id


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m coach_sessions")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="apply pending SQL migrations")
    commands.add_parser("seed-demo", help="load demo coaches, families and enrollments (once)")
    reembed = commands.add_parser(
        "reembed", help="embed every learning event lacking a vector from EMBEDDING_PROVIDER's model (resumable)"
    )
    reembed.add_argument("--batch-size", type=int, default=256)
    token = commands.add_parser("mint-token", help="print a bearer token for local use")
    who = token.add_mutually_exclusive_group(required=True)
    who.add_argument("--sub", type=UUID, help="subject (coach id, or any uuid for an admin)")
    who.add_argument("--demo-coach", type=int, nargs="?", const=1, metavar="N", help="the Nth demo coach (default 1)")
    who.add_argument("--demo-admin", action="store_true", help="the demo admin")
    token.add_argument("--role", choices=[r.value for r in Role], default=Role.COACH.value)
    signer = commands.add_parser(
        "sign-webhook", help="print the X-AiSensy-Signature value for a body (AISENSY_WEBHOOK_SECRET)"
    )
    signer.add_argument("body", help="the exact raw JSON body that will be posted")
    args = parser.parse_args(argv)

    if args.command == "migrate":
        asyncio.run(_migrate())
    elif args.command == "seed-demo":
        asyncio.run(_seed_demo())
    elif args.command == "reembed":
        asyncio.run(_reembed(args.batch_size))
    elif args.command == "sign-webhook":
        from coach_sessions.whatsapp_inbound import sign

        secret = get_settings().aisensy_webhook_secret
        if not secret:
            sys.exit("AISENSY_WEBHOOK_SECRET is not set")
        print("sha256=" + sign(secret, args.body.encode()))
    else:
        settings = get_settings()
        if args.demo_admin:
            from devtools.demo import DEMO_ADMIN_ID  # dev-only module, absent from the Docker image

            subject, role = DEMO_ADMIN_ID, Role.ADMIN
        elif args.demo_coach is not None:
            subject, role = asyncio.run(_demo_coach_id(args.demo_coach - 1)), Role.COACH
        else:
            subject, role = args.sub, Role(args.role)
        print(mint_token(settings.auth_jwt_secret, subject, role, settings.auth_token_ttl))


if __name__ == "__main__":
    main()
