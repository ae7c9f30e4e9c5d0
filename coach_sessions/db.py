"""Connection pool and the migration runner (migrations are applied by `python -m coach_sessions migrate`)."""

import hashlib
import json
import logging
from pathlib import Path

import asyncpg

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
# Any constant works; it keeps two migrators (two replicas starting together) from interleaving.
_MIGRATION_LOCK_KEY = 7_412_903_311


async def _init_connection(conn: asyncpg.Connection) -> None:
    for json_type in ("json", "jsonb"):
        await conn.set_type_codec(json_type, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def create_pool(dsn: str, *, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        dsn, min_size=min_size, max_size=max_size, init=_init_connection, command_timeout=30
    )
    assert pool is not None
    return pool


class MigrationChanged(RuntimeError):
    """An applied migration's file differs from what was applied: the schema would silently disagree."""


async def apply_migrations(dsn: str, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply every not-yet-applied ``NNNN_name.sql`` in order, each in its own transaction.

    Each applied file's SHA-256 is kept; a file edited after it was applied stops the run
    (``MigrationChanged``) before anything else is applied: write a new migration instead. Files
    applied before checksums were kept get theirs recorded on the next run."""
    conn = await asyncpg.connect(dsn)
    applied_now: list[str] = []
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK_KEY)
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        await conn.execute("ALTER TABLE schema_migrations ADD COLUMN IF NOT EXISTS checksum text")
        done = {
            r["version"]: r["checksum"] for r in await conn.fetch("SELECT version, checksum FROM schema_migrations")
        }
        files = sorted(directory.glob("*.sql"))  # noqa: ASYNC240 - a one-off CLI step, not a request path
        checksums = {path.stem: hashlib.sha256(path.read_bytes()).hexdigest() for path in files}
        changed = [v for v, kept in done.items() if kept is not None and v in checksums and kept != checksums[v]]
        if changed:
            raise MigrationChanged(
                f"migration(s) {', '.join(sorted(changed))} changed after being applied; restore the file(s)"
                " and put the change in a new migration"
            )
        for path in files:
            if path.stem in done:
                if done[path.stem] is None:
                    await conn.execute(
                        "UPDATE schema_migrations SET checksum = $2 WHERE version = $1", path.stem, checksums[path.stem]
                    )
                continue
            async with conn.transaction():
                await conn.execute(path.read_text())
                await conn.execute(
                    "INSERT INTO schema_migrations (version, checksum) VALUES ($1, $2)", path.stem, checksums[path.stem]
                )
            log.info("applied migration", extra={"migration": path.stem})
            applied_now.append(path.stem)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK_KEY)
        await conn.close()
    return applied_now
