"""Running ``headwater`` as a user does: subprocesses, a served API, an instance that polls."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.api_fixtures import CALLBACK_URL, docs_configuration
from tests.sandbox_fixtures import ActonSandbox, Receiver

HEADWATER = [str(Path(sys.executable).parent / "headwater")]


def env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The test's environment without any HEADWATER_* variable, with a data folder under
    ``tmp_path`` and ``extra``."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HEADWATER_")}
    clean["HEADWATER_DATA_DIR"] = str(tmp_path / "data")
    clean.update(extra)
    return clean


def run(
    args: list[str], environ: dict[str, str], cwd: Path, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*HEADWATER, *args], env=environ, cwd=cwd, capture_output=True, text=True, timeout=timeout
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http(method: str, url: str, body: Any = None, auth: str | None = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    if auth:
        headers["Authorization"] = auth
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def wait_until(condition: Any, what: str, timeout: float = 30) -> Any:
    """Poll ``condition()`` until it answers something true; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        got = condition()
        if got:
            return got
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@dataclass
class Served:
    """A running ``headwater serve``; its output (stdout and stderr) goes to ``log``."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def api(self) -> str:
        return f"{self.url}/elements/api-v2"

    def output(self) -> str:
        return self.log.read_text()


@contextlib.contextmanager
def serving(environ: dict[str, str], cwd: Path, *, workers: bool = True) -> Iterator[Served]:
    """``headwater serve`` until the block ends, then SIGTERM; fails if it does not stop
    cleanly."""
    port = free_port()
    log = cwd / f"serve-{port}.log"
    args = [*HEADWATER, "serve", "--port", str(port)] + ([] if workers else ["--no-workers"])
    with log.open("w") as out:
        process = subprocess.Popen(args, env=environ, cwd=cwd, stdout=out, stderr=out)
        served = Served(f"http://127.0.0.1:{port}", process, log)
        try:

            def ready() -> bool:
                assert process.poll() is None, served.output()
                try:
                    return http("GET", f"{served.url}/readyz")[0] == 200
                except OSError:
                    return False

            wait_until(ready, "the server to be ready")
            yield served
        finally:
            process.send_signal(signal.SIGTERM)
            code = process.wait(timeout=20)
    assert code == 0, served.output()


def make_user(environ: dict[str, str], cwd: Path, org: str = "Acme") -> str:
    """A new organization and user; returns their Authorization header."""
    made = run(["users", "create", "--org", org, "--json"], environ, cwd)
    assert made.returncode == 0, made.stderr
    user = json.loads(made.stdout)
    return f"User {user['userSecret']}, Organization {user['organizationSecret']}"


def polling_configuration(sandbox: ActonSandbox, receiver: Receiver) -> dict[str, Any]:
    """The docs' polling configuration, notifying ``receiver`` with its key."""
    return {
        **docs_configuration(sandbox),
        "event.notification.callback.url": receiver.url,
        "event.notification.signature.key": receiver.secret,
        "event.poller.refresh_interval": "1",
    }


def make_instance(
    served: Served, auth: str, sandbox: ActonSandbox, configuration: dict[str, Any]
) -> dict[str, Any]:
    """An Act-On instance created through the API with the sandbox's OAuth."""
    body = {
        "element": {"key": "acton"},
        "providerData": {"code": sandbox.authorize_code(CALLBACK_URL)},
        "configuration": configuration,
        "name": "Polling",
    }
    status, created = http("POST", f"{served.api}/instances", body, auth)
    assert status == 200, created
    return dict(created)
