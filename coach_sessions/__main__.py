"""Command line: ``python -m coach_sessions migrate | reembed | mint-token --sub UUID [--role ROLE]``.

The development commands (``seed-demo``, ``mint-token --demo-coach|--demo-admin``, ``sign-webhook``) are
``python -m devtools``'s: nothing here imports devtools/, which the Docker image does not contain."""

import argparse
import asyncio
import json
from uuid import UUID

from coach_sessions.auth import mint_token
from coach_sessions.db import apply_migrations, create_pool
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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m coach_sessions")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="apply pending SQL migrations")
    reembed = commands.add_parser(
        "reembed", help="embed every learning event lacking a vector from EMBEDDING_PROVIDER's model (resumable)"
    )
    reembed.add_argument("--batch-size", type=int, default=256)
    token = commands.add_parser(
        "mint-token", help="print a bearer token (a demo user's: python -m devtools mint-token --demo-coach)"
    )
    token.add_argument("--sub", type=UUID, required=True, help="subject (coach id, or any uuid for an admin)")
    token.add_argument("--role", choices=[r.value for r in Role], default=Role.COACH.value)
    args = parser.parse_args(argv)

    if args.command == "migrate":
        asyncio.run(_migrate())
    elif args.command == "reembed":
        asyncio.run(_reembed(args.batch_size))
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
