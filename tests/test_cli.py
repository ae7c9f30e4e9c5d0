"""The two command lines: ``python -m coach_sessions`` (production: runs without devtools/, as in the Docker
image) and ``python -m devtools`` (the demo commands). Each runs in its own interpreter, as from a shell."""

import os
import subprocess
import sys
from uuid import uuid4

from coach_sessions.auth import verify_token
from coach_sessions.statuses import Role
from coach_sessions.whatsapp_inbound import sign
from devtools.devstack import REPO_ROOT

SECRET = "s" * 40
# `python -m coach_sessions` in an interpreter where `import devtools` fails, like the Docker image's.
WITHOUT_DEVTOOLS = (
    "import runpy, sys; sys.modules['devtools'] = None; runpy.run_module('coach_sessions', run_name='__main__')"
)


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in {"APP_ENV", "AISENSY_WEBHOOK_SECRET"}}
    env |= {"APP_ENV": "development", "AUTH_JWT_SECRET": SECRET, "AISENSY_WEBHOOK_SECRET": SECRET}
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
