"""The ``headwater`` command as a user runs it: a subprocess, real servers on loopback."""

from __future__ import annotations

import json
import signal
import socket
import stat
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

import headwater
from headwater.storage import migrate
from tests import cli_support, databases
from tests.api_fixtures import CALLBACK_URL, docs_configuration
from tests.sandbox_fixtures import ActonSandbox


def test_users_create_json(tmp_path: Path) -> None:
    env = cli_support.env(tmp_path)
    first = cli_support.run(["users", "create", "--org", "Acme", "--json"], env, tmp_path)
    assert first.returncode == 0, first.stderr
    created = json.loads(first.stdout)
    assert set(created) == {"organizationId", "organizationSecret", "userId", "userSecret"}
    assert isinstance(created["organizationId"], int) and len(created["userSecret"]) >= 32
    second = json.loads(
        cli_support.run(["users", "create", "--org", "Beta", "--json"], env, tmp_path).stdout
    )
    assert second["organizationId"] != created["organizationId"]
    assert second["userSecret"] != created["userSecret"]
    assert (tmp_path / "data" / "headwater.db").exists()
    text = cli_support.run(["users", "create", "--org", "Gamma"], env, tmp_path)
    assert "Authorization: User " in text.stdout
    empty = cli_support.run(["users", "create", "--org", " "], env, tmp_path)
    assert empty.returncode == 1 and "--org" in empty.stderr and "Traceback" not in empty.stderr


def test_db_upgrade(db_url: str, tmp_path: Path) -> None:
    result = cli_support.run(
        ["db", "upgrade"], cli_support.env(tmp_path, HEADWATER_DATABASE_URL=db_url), tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].startswith("database already at revision ")


def test_db_upgrade_prints_each_migration(tmp_path: Path) -> None:
    env = cli_support.env(tmp_path)
    result = cli_support.run(["db", "upgrade"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    revisions = migrate.revisions()
    assert [line.split(":")[0] for line in lines[:-1]] == [f"applied {r}" for r in revisions]
    assert lines[-1] == (
        f"database at revision {revisions[-1]} ({len(revisions)} migration(s) applied)"
    )


def _one_line_failure(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    """A failed command says why on one line of stderr, with no traceback."""
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_version(tmp_path: Path) -> None:
    result = cli_support.run(["--version"], cli_support.env(tmp_path), tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"headwater {headwater.__version__}"


def test_bad_settings_exit_with_a_message(tmp_path: Path) -> None:
    env = cli_support.env(tmp_path, HEADWATER_DATABASE_URL="mysql://x/y")
    result = cli_support.run(["db", "upgrade"], env, tmp_path)
    assert result.returncode == 1
    assert "unsupported database URL" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("command", [["serve", "--port", "0"], ["worker"], ["db", "upgrade"]])
def test_an_unsupported_database_url_is_one_line(command: list[str], tmp_path: Path) -> None:
    env = cli_support.env(tmp_path, HEADWATER_DATABASE_URL="mysql://user@127.0.0.1/headwater")
    result = cli_support.run(command, env, tmp_path)
    _one_line_failure(result, "unsupported database URL", "mysql://")


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("HEADWATER_POLL_CONCURRENCY", "many", "is not a whole number"),
        ("HEADWATER_MIN_REFRESH_SECONDS", "-5", "must be a number greater than 0"),
        ("HEADWATER_TICK_SECONDS", "nan", "must be a number greater than 0"),
        ("HEADWATER_ALLOW_PRIVATE_CALLBACKS", "maybe", "is not a boolean"),
    ],
)
def test_a_bad_setting_is_one_line(name: str, value: str, problem: str, tmp_path: Path) -> None:
    result = cli_support.run(
        ["serve", "--port", "0"], cli_support.env(tmp_path, **{name: value}), tmp_path
    )
    _one_line_failure(result, name, problem)


def test_serve_on_a_taken_port_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = cli_support.run(
            ["serve", "--port", str(port)], cli_support.env(tmp_path), tmp_path
        )
        _one_line_failure(result, f"port {port}", "already in use")
        for command in (["sandbox", "acton"], ["receiver"]):
            result = cli_support.run(
                [*command, "--port", str(port)], cli_support.env(tmp_path), tmp_path
            )
            _one_line_failure(result, f"127.0.0.1:{port}", "already in use")
    # the port was refused before anything else started: no database was created
    assert not (tmp_path / "data").exists()


@pytest.fixture
def server_env(db_url: str, acton_sandbox: ActonSandbox, tmp_path: Path) -> dict[str, str]:
    extra = {"HEADWATER_ACTON_BASE_URL": acton_sandbox.url}
    if not db_url.startswith("sqlite"):
        extra["HEADWATER_DATABASE_URL"] = db_url
        extra["HEADWATER_SECRET_KEY"] = "acceptance-secret-key-0001"
    return cli_support.env(tmp_path, **extra)


@pytest.fixture
def served(server_env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    port = cli_support.free_port()
    log = (tmp_path / "serve.log").open("w")
    process = subprocess.Popen(
        [*cli_support.HEADWATER, "serve", "--port", str(port), "--no-workers"],
        env=server_env,
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        assert process.poll() is None, (tmp_path / "serve.log").read_text()
        try:
            if cli_support.http("GET", f"{url}/readyz")[0] == 200:
                break
        except OSError:
            pass
        assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
        time.sleep(0.05)
    yield url
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=20) == 0, (tmp_path / "serve.log").read_text()
    log.close()


def test_serve_create_user_and_instance(
    served: str, server_env: dict[str, str], acton_sandbox: ActonSandbox, tmp_path: Path
) -> None:
    made = cli_support.run(["users", "create", "--org", "Acme", "--json"], server_env, tmp_path)
    assert made.returncode == 0, made.stderr
    user = json.loads(made.stdout)
    auth = f"User {user['userSecret']}, Organization {user['organizationSecret']}"
    body = {
        "element": {"key": "acton"},
        "providerData": {"code": acton_sandbox.authorize_code(CALLBACK_URL)},
        "configuration": docs_configuration(acton_sandbox),
        "tags": ["Docs"],
        "name": "API Instance with Polling",
    }
    status, created = cli_support.http("POST", f"{served}/elements/api-v2/instances", body, auth)
    assert status == 200, created
    assert created["id"] >= 1 and created["token"]
    status, got = cli_support.http(
        "GET", f"{served}/elements/api-v2/instances/{created['id']}", auth=auth
    )
    assert status == 200 and got["configuration"]["oauth.api.secret"] == "********"
    if "HEADWATER_SECRET_KEY" not in server_env:
        assert (tmp_path / "data" / ".secret-key").exists()


@pytest.mark.parametrize("db_kind", ["sqlite"], indirect=True)
def test_the_data_folder_and_its_files_are_private(
    served: str, server_env: dict[str, str], tmp_path: Path
) -> None:
    made = cli_support.run(["users", "create", "--org", "Acme", "--json"], server_env, tmp_path)
    assert made.returncode == 0, made.stderr  # a write: the WAL files exist now
    data = tmp_path / "data"
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    names = {p.name for p in data.iterdir()}
    assert {"headwater.db", ".secret-key", "headwater.db-wal", "headwater.db-shm"} <= names
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in data.iterdir()}
    assert modes == dict.fromkeys(names, 0o600)


@pytest.mark.parametrize("db_kind", ["postgresql"], indirect=True)
def test_postgresql_without_a_key_refuses_to_start(db_url: str, tmp_path: Path) -> None:
    env = cli_support.env(tmp_path, HEADWATER_DATABASE_URL=db_url)
    result = cli_support.run(["serve", "--port", str(cli_support.free_port())], env, tmp_path)
    assert result.returncode == 1
    _one_line_failure(result, "HEADWATER_SECRET_KEY is required")


@pytest.mark.parametrize("db_kind", ["postgresql"], indirect=True)
def test_a_missing_postgresql_database_is_one_line(db_kind: str, tmp_path: Path) -> None:
    url = f"{databases.PG_BASE}/hw_no_such_database"
    env = cli_support.env(tmp_path, HEADWATER_DATABASE_URL=url, HEADWATER_SECRET_KEY="a" * 32)
    for command in (["db", "upgrade"], ["serve", "--port", "0"]):
        _one_line_failure(
            cli_support.run(command, env, tmp_path), '"hw_no_such_database" does not exist'
        )


def test_a_worker_serves_its_metrics(server_env: dict[str, str], tmp_path: Path) -> None:
    port = cli_support.free_port()
    log = (tmp_path / "worker.log").open("w")
    process = subprocess.Popen(
        [*cli_support.HEADWATER, "worker", "--metrics-port", str(port)],
        env=server_env,
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, (tmp_path / "worker.log").read_text()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as got:
                    text = got.read().decode()
                break
            except OSError:
                assert time.monotonic() < deadline, (tmp_path / "worker.log").read_text()
                time.sleep(0.05)
        assert "# TYPE headwater_polls_total counter" in text
        assert "# TYPE headwater_notifications_total counter" in text
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0, (tmp_path / "worker.log").read_text()
        log.close()
