"""The two command lines: ``python -m coach_sessions`` (production: runs without devtools/, as in the Docker
image) and ``python -m devtools`` (the demo commands). Each runs in its own interpreter, as from a shell."""

import asyncio
import json
import os
import subprocess
import sys
from uuid import UUID, uuid4

import asyncpg
import pytest

from coach_sessions.auth import verify_token
from coach_sessions.statuses import Role
from coach_sessions.whatsapp_inbound import sign
from devtools.devstack import REPO_ROOT

SECRET = "s" * 40
# `python -m coach_sessions` in an interpreter where `import devtools` fails, like the Docker image's.
WITHOUT_DEVTOOLS = (
    "import runpy, sys; sys.modules['devtools'] = None; runpy.run_module('coach_sessions', run_name='__main__')"
)


def _run(*argv: str, database_url: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"APP_ENV", "AISENSY_WEBHOOK_SECRET", "DATABASE_URL"}}
    env |= {"APP_ENV": "development", "AUTH_JWT_SECRET": SECRET, "AISENSY_WEBHOOK_SECRET": SECRET}
    if database_url:
        env["DATABASE_URL"] = database_url
    return subprocess.run([sys.executable, *argv], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_production_mint_token_runs_without_devtools() -> None:
    subject = uuid4()
    done = _run("-c", WITHOUT_DEVTOOLS, "mint-token", "--sub", str(subject), "--role", "admin")
    assert done.returncode == 0, done.stderr
    principal = verify_token(SECRET, done.stdout.strip())
    assert (principal.id, principal.role) == (subject, Role.ADMIN)


def test_the_demo_commands_are_not_production_ones() -> None:
    for argv in (["seed-demo"], ["sign-webhook", "{}"], ["mint-token", "--demo-coach"]):
        done = _run("-c", WITHOUT_DEVTOOLS, *argv)
        assert done.returncode == 2, (argv, done.stderr)  # argparse: no such command or option
        assert "ModuleNotFoundError" not in done.stderr and "ImportError" not in done.stderr


def test_devtools_signs_a_webhook_body() -> None:
    body = '{"entry": []}'
    done = _run("-m", "devtools", "sign-webhook", body)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "sha256=" + sign(SECRET, body.encode())


def test_devtools_mint_token_is_for_demo_users_only() -> None:
    done = _run("-m", "devtools", "mint-token", "--demo-admin")
    assert done.returncode == 0, done.stderr
    assert verify_token(SECRET, done.stdout.strip()).role == Role.ADMIN
    assert _run("-m", "devtools", "mint-token", "--sub", str(uuid4())).returncode == 2


def _admins_with_email(database_url: str, email: str) -> list[tuple[UUID, str]]:
    async def fetch() -> list[tuple[UUID, str]]:
        conn = await asyncpg.connect(database_url)
        try:
            rows = await conn.fetch("SELECT id, name FROM admins WHERE lower(email) = lower($1)", email)
        finally:
            await conn.close()
        return [(row["id"], row["name"]) for row in rows]

    return asyncio.run(fetch())


def test_add_admin_adds_the_first_admin_once_per_email(database_url: str) -> None:
    email = f"first-admin-{uuid4().hex[:8]}@example.org"
    done = _run(
        "-c", WITHOUT_DEVTOOLS, "add-admin", "--name", "First Admin", "--email", email, database_url=database_url
    )
    assert done.returncode == 0, done.stderr
    added = json.loads(done.stdout)
    assert set(added) == {"id", "email"} and added["email"] == email
    again = _run(
        "-c", WITHOUT_DEVTOOLS, "add-admin", "--name", "Renamed", "--email", email.upper(), database_url=database_url
    )
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["id"] == added["id"]  # the same row: idempotent on email, any case
    assert _admins_with_email(database_url, email) == [(UUID(added["id"]), "Renamed")]
    # The id it printed is what mint-token's --sub takes for an admin.
    token = _run("-c", WITHOUT_DEVTOOLS, "mint-token", "--sub", added["id"], "--role", "admin")
    assert verify_token(SECRET, token.stdout.strip()).id == UUID(added["id"])


@pytest.mark.parametrize(
    ("name", "email", "message"),
    [
        ("Admin", "not-an-email", "is not an email address"),
        ("Admin", "two@at@example.org", "is not an email address"),
        ("Admin", "has space@example.org", "is not an email address"),
        ("Admin", "@example.org", "is not an email address"),
        ("Admin", "admin@", "is not an email address"),
        ("   ", "blank-name@example.org", "--name must be 1 to 200 characters"),
        ("x" * 201, "long-name@example.org", "--name must be 1 to 200 characters"),
    ],
)
def test_add_admin_refuses_what_the_table_would_refuse_with_a_sentence(
    database_url: str, name: str, email: str, message: str
) -> None:
    done = _run("-c", WITHOUT_DEVTOOLS, "add-admin", "--name", name, "--email", email, database_url=database_url)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr
    assert done.stdout == ""
    assert _admins_with_email(database_url, email) == []


def test_mint_token_help_says_the_subject_is_a_coach_or_an_admin_id() -> None:
    done = _run("-c", WITHOUT_DEVTOOLS, "mint-token", "--help")
    assert done.returncode == 0, done.stderr
    text = " ".join(done.stdout.split())
    assert "a coach's id" in text and "an admin's id" in text and "add-admin" in text
