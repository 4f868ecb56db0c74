"""Authorization on the wire (401 naming a malformed header's fault, one answer for any wrong
secret) and tenant isolation (404, never 403)."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi import APIRouter

from headwater.api import auth as auth_module
from headwater.storage import db, tenants
from tests.api_fixtures import RunningApi


def _parts(header: str) -> tuple[str, str]:
    user, org = header.split(", ")
    return user.removeprefix("User "), org.removeprefix("Organization ")


@pytest.mark.parametrize(
    ("make_header", "says"),
    [
        (lambda u, o, u2, o2: None, "missing"),
        (lambda u, o, u2, o2: f"User {u}", "lacks the Organization secret"),
        (lambda u, o, u2, o2: f"Organization {o}", "lacks the User secret"),
        (lambda u, o, u2, o2: f"Bearer {u}", "not User, Organization or Element"),
        (lambda u, o, u2, o2: f"User {u}, Organization {o}, User {u}", "twice"),
        (lambda u, o, u2, o2: f"User wrong, Organization {o}", "credentials are not valid"),
        (lambda u, o, u2, o2: f"User {u}, Organization wrong", "credentials are not valid"),
        (lambda u, o, u2, o2: f"User {u2}, Organization {o}", "credentials are not valid"),
    ],
    ids=["none", "no-org", "no-user", "bearer", "twice", "bad-user", "bad-org", "other-org-user"],
)
async def test_bad_authorization_is_401_saying_why(
    api: RunningApi, make_header: object, says: str
) -> None:
    user, org = _parts(await api.create_user("A"))
    user2, org2 = _parts(await api.create_user("B"))
    header = make_header(user, org, user2, org2)  # type: ignore[operator]
    headers = {} if header is None else {"Authorization": header}
    reply = await api.call("GET", "instances", headers=headers)
    assert reply.status == 401, reply.text
    assert says in reply.json["message"]
    assert reply.json["requestId"].startswith("req_")
    assert user not in reply.text and org not in reply.text


async def test_a_wrong_user_or_organization_secret_gets_the_same_401(api: RunningApi) -> None:
    user, org = _parts(await api.create_user("A"))
    user2, org2 = _parts(await api.create_user("B"))
    answers = []
    for header in [
        f"User {user}, Organization wrong-{org}",
        f"User wrong-{user}, Organization {org}",
        f"User wrong-{user}, Organization wrong-{org}",
        f"User {user2}, Organization {org}",
        f"User {user}, Organization {org2}",
    ]:
        reply = await api.call("GET", "instances", auth=header)
        assert reply.status == 401, reply.text
        body = reply.json
        assert body.pop("requestId").startswith("req_")
        answers.append((body, reply.headers.get("WWW-Authenticate")))
    assert all(answer == answers[0] for answer in answers), answers


async def test_no_part_of_a_malformed_header_is_echoed(api: RunningApi) -> None:
    user, org = _parts(await api.create_user("A"))
    for header in [
        f"Bearer {user}",
        f"User {user}, Organization {org}, Account sneaky-{user}",
        f"User {user} {org}, Organization {org}",
        "Basic PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    ]:
        reply = await api.call("GET", "instances", auth=header)
        assert reply.status == 401, reply.text
        for word in header.replace(",", " ").split():
            if word not in {"User", "Organization"}:
                assert word not in reply.text, (word, reply.text)


async def test_other_organizations_instances_are_404(api: RunningApi) -> None:
    alice = await api.create_user("Alice")
    bob = await api.create_user("Bob")
    mine = await api.create_instance(auth=alice)
    path = f"instances/{mine['id']}"
    assert (await api.call("GET", "instances", auth=bob)).json == []
    for method, suffix, body in [
        ("GET", "", None),
        ("PATCH", "", {"name": "stolen"}),
        ("PUT", "", api.docs_body("code")),
        ("DELETE", "", None),
        ("PUT", "/enabled", None),
        ("DELETE", "/enabled", None),
        ("GET", "/configuration", None),
        ("GET", "/configuration/oauth.api.key", None),
        ("PATCH", "/configuration/oauth.api.key", {"propertyValue": "x"}),
    ]:
        reply = await api.call(method, path + suffix, auth=bob, json=body)
        assert reply.status == 404, (method, suffix, reply.text)
    still = await api.call("GET", path, auth=alice)
    assert still.status == 200 and still.json["name"] == mine["name"]


async def test_a_second_user_of_the_organization_sees_its_instances(api: RunningApi) -> None:
    alice = await api.create_user("Shared")
    created = await api.create_instance(auth=alice)
    _, org_secret = _parts(alice)
    async with db.transaction(api.container.engine) as conn:
        principal = await tenants.authenticate(
            conn, user_secret=_parts(alice)[0], org_secret=org_secret
        )
        await tenants.add_user(
            conn,
            organization_id=principal.organization_id,
            secret="second-user-secret",
            now=dt.datetime.now(dt.UTC),
        )
    colleague = f"User second-user-secret, Organization {org_secret}"
    reply = await api.call("GET", f"instances/{created['id']}", auth=colleague)
    assert reply.status == 200


async def test_element_token_dependency(api: RunningApi) -> None:
    router = APIRouter()

    @router.get("/_probe/element")
    async def probe(instance: auth_module.ElementInstance) -> dict[str, int]:
        return {"id": instance.id}

    api.app.include_router(router)
    alice = await api.create_user("Alice")
    bob = await api.create_user("Bob")
    created = await api.create_instance(auth=alice)
    ok = await api.call("GET", "/_probe/element", auth=f"{alice}, Element {created['token']}")
    assert ok.status == 200 and ok.json == {"id": created["id"]}
    for header, says in [
        (alice, "lacks the Element token"),
        (f"{alice}, Element wrong", "Element token is not valid"),
        (f"{bob}, Element {created['token']}", "Element token is not valid"),
    ]:
        reply = await api.call("GET", "/_probe/element", auth=header)
        assert reply.status == 401, header
        assert says in reply.json["message"]
