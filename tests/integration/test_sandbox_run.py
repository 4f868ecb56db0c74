"""``headwater sandbox acton`` and ``headwater receiver`` as commands: they listen and say where."""

from __future__ import annotations

import json
import queue
import re
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

COMMAND = [sys.executable, "-c", "from headwater.cli import app; app()"]


class Command:
    """A running command whose output lines are read on a thread, so waits have deadlines."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [*COMMAND, *args, "--port", "0"], stdout=subprocess.PIPE, text=True
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)

    def line(self, timeout: float = 20.0) -> str:
        return self.lines.get(timeout=timeout)

    def url(self) -> str:
        first = self.line()
        found = re.search(r"listening on (http://[\d.]+:\d+)", first)
        assert found, first
        return found.group(1)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)
        if self.process.stdout is not None:
            self.process.stdout.close()


@pytest.fixture
def commands() -> Iterator[list[Command]]:
    started: list[Command] = []
    yield started
    for command in started:
        command.stop()


def test_sandbox_command_prints_its_url_and_credentials(commands: list[Command]) -> None:
    command = Command("sandbox", "acton", "--client-id", "cid", "--client-secret", "cs")
    commands.append(command)
    url = command.url()
    banner = command.line() + command.line()

    with urllib.request.urlopen(f"{url}/_admin/state", timeout=5) as response:
        state = json.load(response)

    assert "cid" in banner and "cs" in banner
    assert len(state["lists"]) == 3 and len(state["lists"][0]["contacts"]) == 25


def test_receiver_command_listens_and_prints(commands: list[Command]) -> None:
    command = Command("receiver", "--secret", "0123456789abcdef", "--fail", "410")
    commands.append(command)
    url = command.url()
    request = urllib.request.Request(f"{url}/events", data=b"{}", method="POST")

    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    refused.value.close()
    printed = command.line()
    with urllib.request.urlopen(f"{url}/arrivals", timeout=5) as response:
        arrivals = json.load(response)

    assert refused.value.code == 410
    assert "✗ Elements-Webhook-Signature" in printed and "410" in printed
    assert [a["verified"] for a in arrivals] == [False]
