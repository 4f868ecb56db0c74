"""The OpenAPI description tells the truth: no FastAPI 422 validation answer, each operation's
errors declared in the one error schema from what it is, an example everywhere, the notification
described as a webhook. Routes added later get the same, without declaring anything."""

from __future__ import annotations

import types
from typing import Any, cast

import pytest
from fastapi import APIRouter, Body, FastAPI, Path

from headwater.api import app as app_module
from headwater.api import auth, examples, openapi
from headwater.bootstrap import Container
from headwater.settings import Settings

BASE = app_module.BASE_PATH
ERROR_REF = {"$ref": "#/components/schemas/Error"}


def _app() -> FastAPI:
    # describing the routes needs the settings only: nothing is connected or served
    return app_module.create_app(cast(Container, types.SimpleNamespace(settings=Settings())))


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
    ]


def _has_example(media: dict[str, Any]) -> bool:
    named = media.get("examples") or {}
    return (
        "example" in media
        or any("value" in example for example in named.values())
        or bool(media.get("schema", {}).get("examples"))
    )


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return _app().openapi()


def test_no_validation_422_anywhere(spec: dict[str, Any]) -> None:
    assert "HTTPValidationError" not in str(spec)
    assert "ValidationError" not in spec["components"]["schemas"]
    for method, path, operation in _operations(spec):
        refused = operation["responses"].get("422")
        if refused is None:
            continue
        # only where the provider can refuse: hub calls, and writing an instance (OAuth code)
        local = path.removeprefix(BASE)
        assert local.startswith("/hubs/") or local.startswith("/instances"), (method, path)
        assert "provider refused" in refused["description"]


def test_every_error_uses_the_error_schema(spec: dict[str, Any]) -> None:
    error = spec["components"]["schemas"]["Error"]
    assert error["required"] == ["requestId", "message", "errors"]
    for method, path, operation in _operations(spec):
        for code, response in operation["responses"].items():
            if code.startswith(("4", "5")) and path != "/readyz":
                media = response["content"]["application/json"]
                assert media["schema"] == ERROR_REF, (method, path, code)
                assert set(media["example"]) >= {"requestId", "message", "errors"}
            assert "X-Request-Id" in response["headers"], (method, path, code)
        for code in ("429", "503"):
            if code in operation["responses"] and path != "/readyz":
                assert "Retry-After" in operation["responses"][code]["headers"]


def _codes(spec: dict[str, Any], method: str, path: str) -> set[str]:
    return set(spec["paths"][BASE + path][method]["responses"])


@pytest.mark.parametrize(
    ("method", "path", "declared", "not_declared"),
    [
        ("get", "/elements", {"200", "401", "429", "503"}, {"400", "404", "409", "413", "422"}),
        ("get", "/instances", {"400", "401"}, {"404", "409", "413", "422", "502"}),
        (
            "post",
            "/instances",
            {"200", "400", "401", "409", "413", "422", "429", "502", "503"},
            {"404"},
        ),
        ("get", "/instances/{instance_id}", {"400", "401", "404", "503"}, {"409", "413", "422"}),
        ("put", "/instances/{instance_id}", {"404", "409", "413", "422", "502"}, set()),
        (
            "get",
            "/hubs/marketing/lists/{list_id}/contacts",
            {"400", "401", "404", "409", "422", "429", "502", "503"},
            {"413"},
        ),
        ("post", "/hubs/marketing/lists/{list_id}/contacts", {"409", "413", "502"}, set()),
        ("post", "/instances/{instance_id}/pollers/{resource}/run", {"202", "404", "409"}, {"413"}),
        ("post", "/instances/{instance_id}/events/replay", {"400", "413", "409"}, {"502"}),
        ("get", "/notifications/subscriptions/deliveries", {"400", "401"}, {"404", "409"}),
    ],
)
def test_errors_follow_from_what_each_operation_is(
    spec: dict[str, Any], method: str, path: str, declared: set[str], not_declared: set[str]
) -> None:
    codes = _codes(spec, method, path)
    assert declared <= codes
    assert not (not_declared & codes)


def test_operations_outside_the_api_declare_only_what_they_answer(spec: dict[str, Any]) -> None:
    assert set(spec["paths"]["/healthz"]["get"]["responses"]) == {"200"}
    assert set(spec["paths"]["/readyz"]["get"]["responses"]) == {"200", "503"}


def test_every_operation_has_an_example(spec: dict[str, Any]) -> None:
    for method, path, operation in _operations(spec):
        body = operation.get("requestBody")
        if body is not None:
            assert _has_example(body["content"]["application/json"]), (method, path)
        answered = [
            media
            for code, response in operation["responses"].items()
            if code.startswith("2")
            for media in response.get("content", {}).values()
        ]
        if not answered:
            assert method == "delete", (method, path)  # 200 with an empty body
            continue
        assert all(_has_example(media) for media in answered), (method, path)


def test_instance_creation_shows_the_docs_body_and_a_typed_configuration(
    spec: dict[str, Any],
) -> None:
    body = spec["paths"][BASE + "/instances"]["post"]["requestBody"]["content"]["application/json"]
    assert body["example"] == examples.INSTANCE_CREATE
    assert body["example"]["configuration"]["event.poller.configuration"]["contacts"]["url"] == (
        "/hubs/marketing/lists/{listId}/contacts?where=modafter='${epoch}'"
    )
    model = spec["components"]["schemas"]["InstanceCreate"]
    configuration = model["properties"]["configuration"]
    assert configuration["title"] == "InstanceConfiguration"
    assert configuration["properties"]["event.vendor.type"]["enum"] == [
        "polling",
        "webhooks",
        "webhook",
    ]
    resource = configuration["properties"]["event.poller.configuration"]["anyOf"][0]
    assert resource["additionalProperties"]["required"] == ["url", "idField"]


def test_the_notification_is_described_as_a_webhook_with_its_headers(
    spec: dict[str, Any],
) -> None:
    webhook = spec["webhooks"]["eventNotification"]["post"]
    headers = {p["name"] for p in webhook["parameters"] if p["in"] == "header"}
    assert headers == {
        "Elements-Webhook-Id",
        "Elements-Webhook-Signature",
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
    }
    assert set(webhook["responses"]) == {"2XX", "410", "default"}
    schema = webhook["requestBody"]["content"]["application/json"]["schema"]
    notification = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    example = notification["examples"][0]["message"]
    assert example["eventId"].startswith("msg_") and example["events"][0]["id"] == 1001


def test_a_route_added_later_is_described_without_declaring_anything() -> None:
    app = _app()
    router = APIRouter()

    @router.post("/instances/{instance_id:int}/subscriptions/{name}")
    async def subscribe(
        instance_id: int,
        name: str,
        who: auth.Principal,
        body: dict[str, Any] = Body(),
    ) -> dict[str, Any]:
        return {}

    @router.get("/instances/{instance_id:int}/metadata")
    async def metadata(instance_id: int = Path(ge=1)) -> list[dict[str, str]]:
        return []

    app.include_router(router, prefix=BASE)
    spec = app.openapi()
    added = spec["paths"][BASE + "/instances/{instance_id}/subscriptions/{name}"]["post"]
    assert set(added["responses"]) == {
        "200",
        "400",
        "401",
        "404",
        "409",
        "413",
        "429",
        "503",
    }
    assert "example" in added["requestBody"]["content"]["application/json"]
    unauthenticated = spec["paths"][BASE + "/instances/{instance_id}/metadata"]["get"]
    assert set(unauthenticated["responses"]) == {"200", "400", "404"}
    answer = unauthenticated["responses"]["200"]["content"]["application/json"]
    assert isinstance(answer["example"], list)


def test_the_description_is_made_once_per_change_of_the_routes() -> None:
    app = _app()
    assert app.openapi() is app.openapi()
    generated = FastAPI.openapi(app)
    assert "422" in str(generated["paths"][BASE + "/instances"]["post"]["responses"])
    assert openapi.describe(generated, BASE) == app.openapi()
