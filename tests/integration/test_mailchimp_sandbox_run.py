"""``headwater sandbox mailchimp`` as a command: it listens, says where, and serves the API."""

from __future__ import annotations

import base64
import json
import urllib.request

from tests.integration.test_sandbox_run import Command, commands

__all__ = ["commands"]


def test_mailchimp_command_prints_its_url_and_credentials(commands: list[Command]) -> None:
    command = Command(
        "sandbox", "mailchimp", "--client-id", "cid", "--client-secret", "cs", "--members", "3"
    )
    commands.append(command)

    url = command.url()
    banner = [command.line() for _ in range(4)]
    api_key = banner[2].split()[-1]
    basic = base64.b64encode(f"anystring:{api_key}".encode()).decode()
    request = urllib.request.Request(
        f"{url}/3.0/lists", headers={"Authorization": f"Basic {basic}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        lists = json.loads(response.read())

    assert "cid" in banner[0] and "cs" in banner[1]
    assert api_key.endswith("-us1")
    assert lists["total_items"] == 2
    assert lists["lists"][0]["stats"]["total_contacts"] == 3
