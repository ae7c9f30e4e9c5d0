"""The local-stack plumbing behind `make run`: the real Temporal dev server from the wheel, and the
development environment given to the worker and the API."""

import asyncio
import socket
import stat
from pathlib import Path

import pytest
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest

from coach_sessions.devstack import (
    SEARCH_ATTRIBUTES,
    ConfigError,
    child_environment,
    missing_search_attributes,
    port_is_free,
    start_temporal_dev_server,
    stop_process,
    wait_for_temporal,
)
from coach_sessions.temporal import SEARCH_ATTRIBUTE_KEYS

EXPECTED_TYPES = {
    "ChildId": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    "CoachId": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    "SessionNumber": IndexedValueType.INDEXED_VALUE_TYPE_INT,
    "SessionStatus": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
}


def _log_tail(log_file: Path) -> str:
    return log_file.read_text()[-2000:] if log_file.exists() else "(no log)"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _start_check_stop(db_file: Path, log_file: Path) -> None:
    port = _free_port()
    server = start_temporal_dev_server(db_file, port=port, ui_port=None, log_file=log_file)
    try:
        client = await wait_for_temporal(f"127.0.0.1:{port}", process=server, within=20)
        response = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace="default")
        )
        registered = dict(response.custom_attributes)
        assert {name: registered.get(name) for name in EXPECTED_TYPES} == EXPECTED_TYPES
        assert await missing_search_attributes(client, "default") == {}
    finally:
        returncode = await asyncio.to_thread(stop_process, server)
    assert server.poll() is not None
    assert returncode == 0, _log_tail(log_file)
    assert port_is_free(port)


async def test_dev_server_registers_search_attributes_and_restarts_on_the_same_db(tmp_path: Path) -> None:
    db_file = tmp_path / "temporal.db"
    log_file = tmp_path / "temporal.log"
    await _start_check_stop(db_file, log_file)
    assert db_file.exists()
    # `make run` passes the same --search-attribute flags on every start: they must not clash with
    # the attributes already stored in the db file.
    await _start_check_stop(db_file, log_file)


def test_search_attribute_list_matches_the_workflow_keys() -> None:
    keys = {key.name: key.indexed_value_type for key in SEARCH_ATTRIBUTE_KEYS}
    assert keys == EXPECTED_TYPES
    assert set(SEARCH_ATTRIBUTES) == set(EXPECTED_TYPES)


def test_development_secret_is_generated_once_and_private(tmp_path: Path) -> None:
    first = child_environment({}, tmp_path)
    second = child_environment({}, tmp_path)
    secret_file = tmp_path / "dev-jwt-secret"
    assert first["APP_ENV"] == "development"
    assert len(first["AUTH_JWT_SECRET"]) >= 32
    assert second["AUTH_JWT_SECRET"] == first["AUTH_JWT_SECRET"]
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600


def test_given_secret_and_app_env_are_kept(tmp_path: Path) -> None:
    env = child_environment({"APP_ENV": "production", "AUTH_JWT_SECRET": "s" * 40}, tmp_path)
    assert env["APP_ENV"] == "production"
    assert env["AUTH_JWT_SECRET"] == "s" * 40
    assert not (tmp_path / "dev-jwt-secret").exists()


def test_production_without_secret_refuses_to_start(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="AUTH_JWT_SECRET"):
        child_environment({"APP_ENV": "production"}, tmp_path)
    assert not (tmp_path / "dev-jwt-secret").exists()
