"""`make run`'s launcher (devtools/devstack.py): the real Temporal dev server from the venv's binary, the
port check, the development environment, and a whole start whose Ctrl-C leaves no process behind."""

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.client import Client

from coach_sessions.payload_codec import Keyring, new_key
from coach_sessions.temporal import SEARCH_ATTRIBUTE_KEYS
from devtools.devstack import (
    REPO_ROOT,
    child_environment,
    main,
    port_is_free,
    search_attribute_flags,
    temporal_command,
    wait_for_temporal,
)

EXPECTED_TYPES = {
    "ChildId": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    "CoachId": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    "SessionNumber": IndexedValueType.INDEXED_VALUE_TYPE_INT,
    "SessionStatus": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_search_attribute_flags_come_from_the_workflow_keys() -> None:
    assert {key.name: key.indexed_value_type.value for key in SEARCH_ATTRIBUTE_KEYS} == EXPECTED_TYPES
    assert search_attribute_flags()[1::2] == [
        "ChildId=Keyword",
        "CoachId=Keyword",
        "SessionNumber=Int",
        "SessionStatus=Keyword",
    ]


async def _start_check_stop(db_file: Path) -> None:
    port = _free_port()
    server = await asyncio.create_subprocess_exec(
        *temporal_command(db_file, port=port), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        await asyncio.to_thread(wait_for_temporal, f"127.0.0.1:{port}", "default", 20)
        client = await Client.connect(f"127.0.0.1:{port}")
        response = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace="default")
        )
        registered = dict(response.custom_attributes)
        assert {name: registered.get(name) for name in EXPECTED_TYPES} == EXPECTED_TYPES
    finally:
        server.terminate()
        _, errors = await asyncio.wait_for(server.communicate(), 10)
    assert server.returncode == 0, errors.decode()[-2000:]
    assert port_is_free(port)


async def test_dev_server_registers_search_attributes_and_restarts_on_the_same_db(tmp_path: Path) -> None:
    db_file = tmp_path / "temporal.db"
    await _start_check_stop(db_file)
    assert db_file.exists()
    # SQLITE_PRAGMAS reached the server: the file is in WAL mode (kept in the file's header).
    with contextlib.closing(sqlite3.connect(db_file)) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    # `make run` passes the same --search-attribute flags on every start: they must not clash with the
    # attributes already stored in the db file.
    await _start_check_stop(db_file)


def test_a_taken_port_is_named_and_nothing_starts(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        ports = ["--temporal-port", str(_free_port()), "--temporal-ui-port", str(_free_port())]
        # (Another port the stack derives may happen to be taken too: the message then names both.)
        taken_message = rf"port (.*, )?{port} \(API\)[^;]* already in use on 127\.0\.0\.1; nothing was started"
        with pytest.raises(SystemExit, match=taken_message):
            main(["--data-dir", str(tmp_path), "--api-port", str(port), *ports])
    assert not (tmp_path / "pg").exists()


@pytest.mark.parametrize(
    ("variable", "name"), [("API_PORT", "API"), ("TEMPORAL_PORT", "Temporal"), ("TEMPORAL_UI_PORT", "Temporal UI")]
)
def test_ports_come_from_the_environment_and_a_taken_one_names_its_variable(
    variable: str, name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`API_PORT=... TEMPORAL_PORT=... TEMPORAL_UI_PORT=... make run`: the taken one is named with the variable
    that moves it, never TEMPORAL_ADDRESS (which would attach the stack to whatever Temporal holds the port)."""
    monkeypatch.delenv("TEMPORAL_ADDRESS", raising=False)
    for other in ("API_PORT", "TEMPORAL_PORT", "TEMPORAL_UI_PORT"):
        monkeypatch.setenv(other, str(_free_port()))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        monkeypatch.setenv(variable, str(port))
        with pytest.raises(SystemExit) as stopped:
            main(["--data-dir", str(tmp_path)])  # no port options: the environment's ports
    message = str(stopped.value)
    assert f"{port} ({name})" in message, message
    # (Another port the stack derives from a random one may happen to be taken too: then both are named.)
    suggestion = message.rpartition("use other ports: ")[2]
    assert f"{variable}={port + 100}" in suggestion.split() and suggestion.endswith(" make run"), message
    assert "TEMPORAL_ADDRESS" not in message
    assert not (tmp_path / "pg").exists()


def test_the_ui_fetches_no_news_and_headless_has_no_ui_flags() -> None:
    with_ui = temporal_command(None, port=7233, ui_port=8233)
    assert "--ui-disable-news-fetch" in with_ui
    assert with_ui[with_ui.index("--ui-port") + 1] == "8233"
    with_codec = temporal_command(None, port=7233, ui_port=8233, codec_endpoint="http://127.0.0.1:8000/codec")
    assert with_codec[with_codec.index("--ui-codec-endpoint") + 1] == "http://127.0.0.1:8000/codec"
    assert "--ui-codec-endpoint" not in with_ui
    headless = temporal_command(None, port=7233)
    assert "--headless" in headless
    assert not [arg for arg in headless if arg.startswith("--ui")]


def test_development_secret_is_generated_once_and_private(tmp_path: Path) -> None:
    first = child_environment({}, tmp_path)
    second = child_environment({}, tmp_path)
    secret_file = tmp_path / "dev-jwt-secret"
    assert first["APP_ENV"] == "development"
    assert len(first["AUTH_JWT_SECRET"]) >= 32
    assert second["AUTH_JWT_SECRET"] == first["AUTH_JWT_SECRET"]
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    # The payload key too: .data/temporal.db's histories stay readable after a restart.
    assert second["PAYLOAD_ENCRYPTION_KEYS"] == first["PAYLOAD_ENCRYPTION_KEYS"]
    assert Keyring.parse(first["PAYLOAD_ENCRYPTION_KEYS"]).ids == ("dev",)
    assert stat.S_IMODE((tmp_path / "dev-payload-key").stat().st_mode) == 0o600


def test_given_secret_and_app_env_are_kept(tmp_path: Path) -> None:
    keys = "k1:" + new_key()
    env = child_environment(
        {"APP_ENV": "production", "AUTH_JWT_SECRET": "s" * 40, "PAYLOAD_ENCRYPTION_KEYS": keys}, tmp_path
    )
    assert env["APP_ENV"] == "production"
    assert env["AUTH_JWT_SECRET"] == "s" * 40
    assert env["PAYLOAD_ENCRYPTION_KEYS"] == keys
    assert not (tmp_path / "dev-jwt-secret").exists()
    assert not (tmp_path / "dev-payload-key").exists()


def test_production_without_payload_keys_refuses_to_start(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="PAYLOAD_ENCRYPTION_KEYS"):
        child_environment({"APP_ENV": "production", "AUTH_JWT_SECRET": "s" * 40}, tmp_path)
    assert not (tmp_path / "dev-payload-key").exists()


def test_production_without_secret_refuses_to_start(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="AUTH_JWT_SECRET"):
        child_environment({"APP_ENV": "production"}, tmp_path)
    assert not (tmp_path / "dev-jwt-secret").exists()


def _processes_mentioning(text: str) -> list[str]:
    """Processes whose command line or environment mention ``text`` (every process of a stack does)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes()
            if text.encode() in cmdline or text.encode() in (proc / "environ").read_bytes():
                found.append(proc.name + ": " + cmdline.replace(b"\0", b" ").decode(errors="replace"))
        except OSError:  # not a process, or gone meanwhile
            continue
    return found


@pytest.fixture
def data_dir() -> Iterator[Path]:
    """Not under pytest's tmp_path: another pytest run on the machine chmods /tmp/pytest-of-<user> to 0700,
    which would lock PostgreSQL's own user out of its data directory (conftest does the same)."""
    path = Path(tempfile.mkdtemp(prefix="coach-sessions-devstack-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_whole_stack_starts_and_ctrl_c_leaves_no_process(data_dir: Path) -> None:
    api_port, temporal_port, ui_port = _free_port(), _free_port(), _free_port()
    dropped = {"APP_ENV", "AUTH_JWT_SECRET", "PAYLOAD_ENCRYPTION_KEYS", "TEMPORAL_UI_ORIGIN", "XDG_RUNTIME_DIR"}
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    ports = ["--api-port", str(api_port), "--temporal-port", str(temporal_port), "--temporal-ui-port", str(ui_port)]
    launcher = subprocess.Popen(
        [sys.executable, "-m", "devtools.devstack", "--data-dir", str(data_dir), *ports],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )
    assert launcher.stdout is not None
    output = []
    try:
        for line in launcher.stdout:  # ends if the stack stops (the banner gives up after 90 s)
            output.append(line)
            if "API token (curl)" in line:
                token = line.split()[-1]
                break
        else:
            pytest.fail("no banner:\n" + "".join(output))
        assert f"http://127.0.0.1:{api_port}/coach/sign-in" in "".join(output)
        assert "#token=" not in "".join(output)  # the pages sign in on the sign-in page, not by URL
        with httpx.Client(base_url=f"http://127.0.0.1:{api_port}", trust_env=False, timeout=5) as http:
            assert http.get("/readyz").status_code == 200
            children = http.get("/api/coach/children", headers={"Authorization": f"Bearer {token}"})
            assert children.status_code == 200, children.text
            assert len(children.json()["children"]) == 2  # the first demo coach's
            assert http.get("/coach/sign-in").status_code == 200
            # The UI's codec calls: its origin passes the preflight, and a coach is not an admin.
            ui = {"Origin": f"http://127.0.0.1:{ui_port}", "Access-Control-Request-Method": "POST"}
            assert http.options("/codec/decode", headers=ui).status_code == 204
            coach = {"Authorization": f"Bearer {token}", "Origin": ui["Origin"]}
            assert http.post("/codec/decode", headers=coach, json={"payloads": []}).status_code == 403
        assert len(_processes_mentioning(str(data_dir))) >= 5  # the check below can see the stack
    finally:
        os.killpg(launcher.pid, signal.SIGINT)  # what Ctrl-C does
        rest, _ = launcher.communicate(timeout=30)
    assert _processes_mentioning(str(data_dir)) == [], "".join(output) + rest
    assert all(port_is_free(port) for port in (api_port, temporal_port, ui_port))
    assert (data_dir / "dev-jwt-secret").exists() and (data_dir / "temporal.db").exists()
    assert (data_dir / "dev-payload-key").exists()


def test_banner_links_to_the_sign_in_page_and_prints_one_curl_token(monkeypatch: pytest.MonkeyPatch) -> None:
    import argparse

    from devtools import devstack

    minted: list[str] = []

    def mint_token(who: str) -> str:
        minted.append(who)
        return "header.payload.signature"

    monkeypatch.setattr(devstack, "mint_token", mint_token)
    monkeypatch.setattr(devstack.httpx, "get", lambda *a, **kw: httpx.Response(200))
    args = argparse.Namespace(api_port=8123, temporal_ui_port=8233, data_dir=Path(".data"))
    text = devstack.banner(args, {"TEMPORAL_ADDRESS": "127.0.0.1:7233", "AISENSY_WEBHOOK_SECRET": "x"})
    assert "  Sign in      http://127.0.0.1:8123/coach/sign-in" in text.splitlines()
    assert "  API token (curl)  header.payload.signature" in text.splitlines()
    assert minted == ["--demo-coach"]  # one token, the first demo coach's
    assert "#token=" not in text and "Coach page" not in text and "Admin page" not in text
