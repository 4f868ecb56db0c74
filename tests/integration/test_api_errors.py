"""Every error answers one JSON shape; bad bodies are named precisely; crashes are logged 500s."""

from __future__ import annotations

import json
import logging

import pytest

from tests.api_fixtures import RunningApi

# the Act-On events docs' own example body: an unbalanced quote and missing commas
DOCS_EXAMPLE = """{
  "element": {"key": "acton"},
  "providerData": {"code": "<authorization code>"},
  "configuration": {
    "oauth.api.key": "<client id>",
    "oauth.api.secret": "<client secret>",
    "oauth.callback.url": "https://app.example.com/callback",
    "event.poller.configuration": {"contacts": {
      "url": "/hubs/marketing/lists/{listId}/contacts?where=modafter='${epoch}'",
      "idField": "_contact_id_"
      "datesConfiguration": {"updatedDateField": "__modified_date"}}}}
  "tags": ["Docs"], "name": "API Instance with Polling"}"""


def _shape(body: dict[str, object]) -> None:
    assert set(body) <= {"requestId", "message", "providerMessage", "errors"}
    assert isinstance(body["requestId"], str) and body["requestId"].startswith("req_")
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["errors"], list)


async def _post(api: RunningApi, auth: str, text: str) -> tuple[int, dict[str, object]]:
    reply = await api.call(
        "POST", "instances", auth=auth, data=text, headers={"Content-Type": "application/json"}
    )
    return reply.status, reply.json


async def test_docs_example_names_line_and_column(api: RunningApi) -> None:
    status, body = await _post(api, await api.create_user(), DOCS_EXAMPLE)
    assert status == 400
    _shape(body)
    assert "line 11, column 7" in str(body["message"])
    assert "comma missing" in str(body["message"])
    assert body["errors"] == [{"field": "body", "problem": body["errors"][0]["problem"]}]  # type: ignore[index]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"name": "x}', "Unterminated string"),
        ('{"name": "x",}', "line 1, column 14"),
        ("", "empty"),
        ("{'name': 'x'}", "double quotes"),
    ],
)
async def test_malformed_json_bodies(api: RunningApi, text: str, expected: str) -> None:
    status, body = await _post(api, await api.create_user(), text)
    assert status == 400, body
    _shape(body)
    assert expected in str(body["message"])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"providerData": {"code": "c"}, "name": "n"}, "element"),
        ({"element": {"key": "acton"}, "providerData": {"code": "c"}}, "name"),
        ({"element": {"key": "acton"}, "name": 5}, "name"),
        ({"element": {"key": "acton"}, "name": "n", "tags": "x"}, "tags"),
        ({"element": {"key": "acton"}, "name": "n", "configuration": []}, "configuration"),
        ({"element": {"key": "acton"}, "name": "n\u0000"}, "name"),
        ({"element": {"key": "nope"}, "name": "n", "providerData": {"code": "c"}}, "element.key"),
        ({"element": {"key": "acton"}, "name": "n"}, "providerData.code"),
        ([1, 2], "body"),
    ],
)
async def test_bad_bodies_name_the_field(api: RunningApi, body: object, field: str) -> None:
    status, answer = await _post(api, await api.create_user(), json.dumps(body))
    assert status == 400, answer
    _shape(answer)
    assert field in [e["field"] for e in answer["errors"]]  # type: ignore[attr-defined]


async def test_non_finite_numbers_are_refused(api: RunningApi) -> None:
    text = json.dumps(api.docs_body("c", {"custom.value": 1})).replace(
        '"custom.value": 1', '"custom.value": NaN'
    )
    status, answer = await _post(api, await api.create_user(), text)
    assert status == 400
    assert answer["errors"][0]["field"] == "configuration"  # type: ignore[index]


_CONFIG = "configuration."
_RESOURCE = "configuration.event.poller.configuration.contacts."
_LISTS = "/hubs/marketing/lists"
_BAD_DATES = {"updatedDateField": "d", "updatedDateFormat": "bogus"}


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"event.poller.refresh_interval": "abc"}, _CONFIG + "event.poller.refresh_interval"),
        (
            {"event.notification.callback.url": "app.example.com/events"},
            _CONFIG + "event.notification.callback.url",
        ),
        ({"event.poller.configuration": {"contacts": {"idField": "id"}}}, _RESOURCE + "url"),
        ({"event.poller.configuration": {"contacts": {"url": _LISTS}}}, _RESOURCE + "idField"),
        (
            {
                "event.poller.configuration": {
                    "contacts": {"url": _LISTS, "idField": "id", "datesConfiguration": _BAD_DATES}
                }
            },
            _RESOURCE + "datesConfiguration.updatedDateFormat",
        ),
        ({"event.unknown.key": "x"}, _CONFIG + "event.unknown.key"),
        ({"event.vendor.type": "push"}, _CONFIG + "event.vendor.type"),
        ({"oauth.api.key": None}, _CONFIG + "oauth.api.key"),
    ],
)
async def test_bad_configuration_names_the_key(
    api: RunningApi, overrides: dict[str, object], field: str
) -> None:
    answer = await api.create_instance(overrides, expect=400)
    _shape(answer)
    assert field in [e["field"] for e in answer["errors"]], answer
    assert api.sandbox.state.tokens.grants["authorization_code"] == 0


async def test_every_problem_is_listed_at_once(api: RunningApi) -> None:
    answer = await api.create_instance(
        {
            "event.poller.refresh_interval": "abc",
            "event.unknown": 1,
            "event.vendor.type": "push",
        },
        expect=400,
    )
    assert len(answer["errors"]) == 3


async def test_unknown_route_and_method(api: RunningApi) -> None:
    auth = await api.create_user()
    missing = await api.call("GET", "no-such-thing", auth=auth)
    assert missing.status == 404
    _shape(missing.json)
    wrong = await api.call("POST", "elements", auth=auth)
    assert wrong.status == 405
    _shape(wrong.json)
    not_an_id = await api.call("GET", "instances/0", auth=auth)
    assert not_an_id.status == 400
    huge = await api.call("GET", f"instances/{2**63}", auth=auth)
    assert huge.status == 404


async def test_crash_is_a_logged_500_with_request_id(
    api: RunningApi, caplog: pytest.LogCaptureFixture
) -> None:
    @api.app.get("/_probe/crash")
    async def crash() -> None:
        raise RuntimeError("boom")

    with caplog.at_level(logging.ERROR, logger="headwater.api.app"):
        reply = await api.call("GET", "/_probe/crash")
    assert reply.status == 500
    _shape(reply.json)
    assert "boom" not in reply.text
    assert reply.headers["X-Request-Id"] == reply.json["requestId"]
    assert any(reply.json["requestId"] in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    ("method", "path", "status", "hint"),
    [
        ("GET", "/elements/api-v2/instance", 404, "did you mean /elements/api-v2/instances?"),
        ("GET", "/elements/api-v2/instances/", 404, "did you mean /elements/api-v2/instances?"),
        ("GET", "/instances", 404, "did you mean /elements/api-v2/instances?"),
        ("GET", "/elements/api-v2/Instances", 404, "did you mean /elements/api-v2/instances?"),
        (
            "GET",
            "/elements/api-v2/instances/7/event",
            404,
            "did you mean /elements/api-v2/instances/{instance_id}/events?",
        ),
        (
            "GET",
            "/elements/api-v2/instances/abc",
            404,
            "did you mean /elements/api-v2/instances/{instance_id}?",
        ),
        ("GET", "/nothing-here", 404, "the API is under /elements/api-v2 (described at /docs)"),
        ("POST", "/foo", 404, "the API is under /elements/api-v2 (described at /docs)"),
        ("GET", "/elements/api-v2/zzz/yyy", 404, "(the API is described at /docs)"),
    ],
)
async def test_an_unknown_route_says_what_is_near(
    api: RunningApi, method: str, path: str, status: int, hint: str
) -> None:
    reply = await api.call(method, path, auth=await api.create_user())
    assert reply.status == status, reply.text
    _shape(reply.json)
    assert reply.headers["X-Request-Id"] == reply.json["requestId"]
    problem = f"no such route {hint}" if hint.startswith("(") else f"no such route; {hint}"
    assert reply.json["errors"] == [{"field": "path", "problem": problem}]
    assert reply.json["message"].startswith(f"No route matches {method} {path}.")


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("POST", "instances/enabled", "DELETE, PUT"),
        ("POST", "instances/5", "DELETE, GET, HEAD, PATCH, PUT"),
        ("PATCH", "/healthz", "GET, HEAD"),
        ("POST", "/docs", "GET, HEAD"),
    ],
)
async def test_a_wrong_method_lists_every_allowed_one(
    api: RunningApi, method: str, path: str, allow: str
) -> None:
    reply = await api.call(method, path, auth=await api.create_user())
    assert reply.status == 405, reply.text
    _shape(reply.json)
    assert reply.headers["Allow"] == allow
    assert reply.json["errors"] == [
        {"field": "method", "problem": f"{method} is not allowed here; allowed: {allow}"}
    ]
