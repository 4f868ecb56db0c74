"""A fixture that starts the local Mailchimp sandbox on a free loopback port, on its own thread.

``mailchimp_sandbox`` → ``MailchimpSandbox``: ``.url`` (login host and API host), ``.client_id``,
``.client_secret``, ``.state`` (the live ``SandboxState``: ``.store``, ``.clock``, ``.tokens``,
``.faults``, ``.connections``, ``.webhooks``, ``.counters()``), and
``authorize_code(redirect_uri, state="s") -> str`` (the real approve flow over HTTP),
``token(account=None) -> str`` (an access token without the dance), ``headers(token=None)``
(``Authorization: Bearer …``), ``list_id(n=0)``, ``admin(method, path, body=None)`` (a call to
``/_admin``). Options go in a marker, e.g. ``@pytest.mark.mailchimp_sandbox(members=5, seed=7)``
(any ``SandboxState`` keyword); ``mailchimp_sandbox_factory(**options)`` starts more.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from headwater.sandbox import serving
from headwater.sandbox.mailchimp import app
from tests import sandbox_fixtures


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "mailchimp_sandbox(**options): SandboxState options for mailchimp_sandbox"
    )


@dataclass
class MailchimpSandbox:
    """A running Mailchimp sandbox and helpers that use it as a client would."""

    url: str
    client_id: str
    client_secret: str
    state: app.SandboxState

    def authorize_code(self, redirect_uri: str, state: str = "s") -> str:
        """Opens the authorize page, presses Approve and returns the code from the redirect."""
        query = urllib.parse.urlencode(
            {
                "response_type": "code",
                "client_id": self.client_id,
                "redirect_uri": redirect_uri,
                "state": state,
            }
        )
        status, _, page = sandbox_fixtures._call(f"{self.url}/oauth2/authorize?{query}")
        assert status == 200, page
        form = sandbox_fixtures._FormParser()
        form.feed(page.decode())
        body = urllib.parse.urlencode({**form.fields, "decision": "approve"}).encode()
        status, headers, answer = sandbox_fixtures._call(
            urllib.parse.urljoin(self.url, form.action),
            "POST",
            body,
            **{"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert status == 302, answer
        params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(headers["Location"]).query))
        assert params.get("state") == state, headers["Location"]
        return params["code"]

    def token(self, account: str | None = None) -> str:
        return self.state.tokens.issue_token(account)

    def headers(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token()}"}

    def list_id(self, n: int = 0) -> str:
        return self.state.store.lists()[n].id

    def admin(self, method: str, path: str, body: Any = None) -> Any:
        """Calls ``/_admin{path}`` and returns the decoded JSON (fails the test on a 4xx/5xx)."""
        data = None if body is None else json.dumps(body).encode()
        status, _, answer = sandbox_fixtures._call(
            f"{self.url}/_admin{path}", method, data, **{"Content-Type": "application/json"}
        )
        assert status < 400, answer
        return json.loads(answer)


@pytest.fixture
def mailchimp_sandbox_factory() -> Iterator[Callable[..., MailchimpSandbox]]:
    """Starts sandboxes with the given ``SandboxState`` options; stops them after the test."""
    servers: list[serving.BackgroundServer] = []

    def start(**options: Any) -> MailchimpSandbox:
        state = app.SandboxState(**options)
        server = serving.BackgroundServer(app.build_app(state))
        url = server.start()
        servers.append(server)
        return MailchimpSandbox(url, state.tokens.client_id, state.tokens.client_secret, state)

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def mailchimp_sandbox(
    request: pytest.FixtureRequest, mailchimp_sandbox_factory: Callable[..., MailchimpSandbox]
) -> MailchimpSandbox:
    """A fresh sandbox (options from ``@pytest.mark.mailchimp_sandbox(...)``)."""
    marker = request.node.get_closest_marker("mailchimp_sandbox")
    return mailchimp_sandbox_factory(**(marker.kwargs if marker else {}))
