"""Command line: ``python -m coach_sessions migrate | reembed | add-admin --name NAME --email EMAIL |
mint-token --sub UUID [--role ROLE] | ops list|actions|resend|mark-delivered|drop|retry-sync …``.

The development commands (``seed-demo``, ``mint-token --demo-coach|--demo-admin``, ``sign-webhook``) are
``python -m devtools``'s: nothing here imports devtools/, which the Docker image does not contain."""

import argparse
import asyncio
import json
import re
from uuid import UUID

from coach_sessions.auth import mint_token
from coach_sessions.db import apply_migrations, create_pool
from coach_sessions.ops_cli import add_ops_commands, run_ops
from coach_sessions.settings import get_settings
from coach_sessions.statuses import Role


async def _migrate() -> None:
    applied = await apply_migrations(get_settings().database_url)
    print(json.dumps({"applied": applied}))


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


# The admins table's CHECKs (migrations/0013_sign_in.sql), checked here first so that a typo gets a
# sentence and exit code 2, not a CheckViolationError's traceback.
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")
_NAME_MAX = 200


def _admin_problem(name: str, email: str) -> str | None:
    if not 1 <= len(name.strip(" ")) <= _NAME_MAX:
        return f"--name must be 1 to {_NAME_MAX} characters (not counting spaces at either end)"
    if not _EMAIL.fullmatch(email):
        return f"--email {email!r} is not an email address (one @, no spaces, something on each side)"
    return None


async def _add_admin(name: str, email: str) -> None:
    from coach_sessions.repositories.principals import PrincipalRepository

    pool = await create_pool(get_settings().database_url, min_size=1, max_size=1)
    try:
        admin = await PrincipalRepository(pool).add_admin(name=name, email=email)
    finally:
        await pool.close()
    print(json.dumps({"id": str(admin.id), "email": email}))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m coach_sessions")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="apply pending SQL migrations")
    reembed = commands.add_parser(
        "reembed", help="embed every learning event lacking a vector from EMBEDDING_PROVIDER's model (resumable)"
    )
    reembed.add_argument("--batch-size", type=int, default=256)
    admin = commands.add_parser(
        "add-admin",
        help="add an admin (the first one, say), or rename the one with this email; prints {id, email}",
    )
    admin.add_argument("--name", required=True, help="shown on the pages")
    admin.add_argument("--email", required=True, help="the email they sign in with (matched case-insensitively)")
    token = commands.add_parser(
        "mint-token",
        help="print a bearer token for a coach's or an admin's id (a demo user's: python -m devtools mint-token)",
    )
    token.add_argument(
        "--sub",
        type=UUID,
        required=True,
        help="subject: a coach's id (--role coach) or an admin's id (--role admin; admins are rows now: add-admin "
        "prints the id). Not checked here (no database): a token for an id with no row is refused by the API",
    )
    token.add_argument("--role", choices=[r.value for r in Role], default=Role.COACH.value)
    add_ops_commands(commands)
    args = parser.parse_args(argv)

    if args.command == "migrate":
        asyncio.run(_migrate())
    elif args.command == "reembed":
        asyncio.run(_reembed(args.batch_size))
    elif args.command == "ops":
        raise SystemExit(asyncio.run(run_ops(args)))
    elif args.command == "add-admin":
        if problem := _admin_problem(args.name, args.email):
            parser.exit(2, f"error: {problem}\n")
        asyncio.run(_add_admin(args.name, args.email))
    else:
        settings = get_settings()
        print(
            mint_token(
                settings.auth_jwt_secret,
                args.sub,
                Role(args.role),
                settings.auth_token_ttl,
                max_ttl=settings.auth_token_max_ttl,
            )
        )


if __name__ == "__main__":
    main()
