"""Rotating a user's secret, an organization's secret and an instance's token: the old one works,
then both during the overlap, then only the new one (time is moved, not waited for)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import subprocess
from typing import Any

from headwater.storage import db, tenants
from tests import cli_support
from tests.api_fixtures import RunningApi

HOUR = dt.timedelta(hours=1)


def _travel(api: RunningApi, by: dt.timedelta) -> None:
    """Move the server's clock ``by`` into the future (for overlaps)."""
    later = dt.datetime.now(dt.UTC) + by
    api.container.rotation.clock = lambda: later
    api.container.instances.clock = lambda: later


def _header(user: str, org: str, token: str | None = None) -> str:
    base = f"User {user}, Organization {org}"
    return base if token is None else f"{base}, Element {token}"


async def _tenant(api: RunningApi, org: str = "Acme") -> tenants.NewTenant:
    async with db.transaction(api.container.engine) as conn:
        return await tenants.create(conn, organization_name=org, now=dt.datetime.now(dt.UTC))


async def _status(api: RunningApi, auth: str, path: str = "instances") -> int:
    return (await api.call("GET", path, auth=auth)).status


async def test_a_user_rotates_its_own_secret_with_an_overlap(api: RunningApi) -> None:
    t = await _tenant(api)
    old = _header(t.user_secret, t.organization_secret)
    assert await _status(api, old) == 200
    reply = await api.call("POST", "users/me/secret/rotate", auth=old)
    assert reply.status == 200, reply.text
    body = reply.json
    new = _header(body["userSecret"], t.organization_secret)
    assert body["userId"] == t.user_id and body["userSecret"] != t.user_secret
    until = dt.datetime.fromisoformat(body["previousSecretExpiresDate"])
    expected = dt.datetime.now(dt.UTC) + api.settings.credential_overlap_seconds * dt.timedelta(
        seconds=1
    )
    assert abs((until - expected).total_seconds()) < 60
    # during the overlap both work
    assert await _status(api, old) == 200
    assert await _status(api, new) == 200
    _travel(api, dt.timedelta(hours=23))
    assert await _status(api, old) == 200
    # after it, only the new one
    _travel(api, dt.timedelta(hours=25))
    assert await _status(api, old) == 401
    assert await _status(api, new) == 200


async def test_rotating_again_ends_the_older_secret_at_once(api: RunningApi) -> None:
    t = await _tenant(api)
    first = _header(t.user_secret, t.organization_secret)
    second = (await api.call("POST", "users/me/secret/rotate", auth=first)).json["userSecret"]
    reply = await api.call(
        "POST",
        "users/me/secret/rotate",
        auth=_header(second, t.organization_secret),
        json={"overlapSeconds": 3600},
    )
    assert reply.status == 200, reply.text
    third = reply.json["userSecret"]
    assert await _status(api, first) == 401
    assert await _status(api, _header(second, t.organization_secret)) == 200
    assert await _status(api, _header(third, t.organization_secret)) == 200
    _travel(api, 2 * HOUR)
    assert await _status(api, _header(second, t.organization_secret)) == 401
    assert await _status(api, _header(third, t.organization_secret)) == 200


async def test_an_overlap_of_zero_stops_the_old_secret_now_and_bad_ones_are_named(
    api: RunningApi,
) -> None:
    t = await _tenant(api)
    old = _header(t.user_secret, t.organization_secret)
    for bad in (-1, 31 * 24 * 3600, "soon"):
        reply = await api.call(
            "POST", "users/me/secret/rotate", auth=old, json={"overlapSeconds": bad}
        )
        assert reply.status == 400, reply.text
        assert "overlapSeconds" in reply.text
    assert await _status(api, old) == 200  # a refused rotation changed nothing
    reply = await api.call("POST", "users/me/secret/rotate", auth=old, json={"overlapSeconds": 0})
    assert reply.status == 200, reply.text
    assert await _status(api, old) == 401
    assert await _status(api, _header(reply.json["userSecret"], t.organization_secret)) == 200


async def test_an_instance_token_rotates_with_an_overlap(api: RunningApi) -> None:
    t = await _tenant(api)
    auth = _header(t.user_secret, t.organization_secret)
    created = await api.create_instance(auth=auth)
    old_token = created["token"]
    hub = "hubs/marketing/lists"
    assert await _status(api, _header(t.user_secret, t.organization_secret, old_token), hub) == 200
    reply = await api.call("POST", f"instances/{created['id']}/token/rotate", auth=auth)
    assert reply.status == 200, reply.text
    new_token = reply.json["token"]
    assert reply.json["id"] == created["id"] and new_token != old_token
    assert "previousTokenExpiresDate" in reply.json
    # the token appears nowhere else
    shown = (await api.call("GET", f"instances/{created['id']}", auth=auth)).text
    assert new_token not in shown
    old_auth = _header(t.user_secret, t.organization_secret, old_token)
    new_auth = _header(t.user_secret, t.organization_secret, new_token)
    assert await _status(api, old_auth, hub) == 200
    assert await _status(api, new_auth, hub) == 200
    # the token-scoped platform calls of Cloud Elements clients take either too
    both = [(await api.call("GET", "instances", auth=a)).json["id"] for a in (old_auth, new_auth)]
    assert both == [created["id"], created["id"]]
    _travel(api, dt.timedelta(hours=25))
    assert await _status(api, old_auth, hub) == 401
    assert await _status(api, new_auth, hub) == 200


async def test_another_organization_cannot_rotate_an_instance_token(api: RunningApi) -> None:
    created = await api.create_instance()
    stranger = await api.create_user("Other")
    reply = await api.call("POST", f"instances/{created['id']}/token/rotate", auth=stranger)
    assert reply.status == 404, reply.text
    reply = await api.call("POST", "instances/999999/token/rotate", auth=stranger)
    assert reply.status == 404, reply.text
    reply = await api.call("POST", f"instances/{created['id']}/token/rotate")
    assert reply.status == 401, reply.text


def _cli(api: RunningApi, tmp: Any, *args: str) -> subprocess.CompletedProcess[str]:
    environ = cli_support.env(tmp, HEADWATER_DATABASE_URL=api.settings.database_url)
    return cli_support.run(["users", "rotate", *args], environ, tmp)


async def test_the_cli_rotates_a_user_and_its_organization(api: RunningApi, tmp_path: Any) -> None:
    t = await _tenant(api)
    other = await _tenant(api, "Other")
    old = _header(t.user_secret, t.organization_secret)
    done = await asyncio.to_thread(
        _cli, api, tmp_path, "--user", str(t.user_id), "--org", str(t.organization_id), "--json"
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    assert found["userId"] == t.user_id and found["organizationId"] == t.organization_id
    new = _header(found["userSecret"], found["organizationSecret"])
    assert await _status(api, old) == 200
    assert await _status(api, new) == 200
    # a mix of old and new works too: each secret has its own overlap
    assert await _status(api, _header(t.user_secret, found["organizationSecret"])) == 200
    _travel(api, dt.timedelta(hours=25))
    assert await _status(api, old) == 401
    assert await _status(api, _header(t.user_secret, found["organizationSecret"])) == 401
    assert await _status(api, new) == 200
    # the other organization is untouched
    assert await _status(api, _header(other.user_secret, other.organization_secret)) == 200


async def test_the_cli_refuses_what_it_cannot_rotate(api: RunningApi, tmp_path: Any) -> None:
    t = await _tenant(api)
    other = await _tenant(api, "Other")
    cases = [
        ((), "--user ID, --org ID"),
        (("--user", "999999"), "No user with id 999999"),
        (("--org", "999999"), "No organization with id 999999"),
        (("--user", str(t.user_id), "--org", str(other.organization_id)), "is not of organization"),
        (("--user", str(t.user_id), "--overlap", "-5"), "--overlap"),
    ]
    for args, says in cases:
        done = await asyncio.to_thread(_cli, api, tmp_path, *args)
        assert done.returncode != 0, (args, done.stdout)
        assert says in done.stderr, (args, done.stderr)
    assert await _status(api, _header(t.user_secret, t.organization_secret)) == 200
    done = await asyncio.to_thread(_cli, api, tmp_path, "--org", str(t.organization_id))
    assert done.returncode == 0, done.stderr
    assert "shown once" in done.stdout and "works until" in done.stdout
