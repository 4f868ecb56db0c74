"""Request bodies are bounded before they are read: 413 over ``max_body_bytes`` (declared, chunked
or longer than declared), 400 for JSON nested too deep, and 401 for an unauthenticated body
without reading it. Each refusal arrives while the client still holds most of its body back."""

from __future__ import annotations

import asyncio
import json
import urllib.parse
from collections.abc import AsyncIterator
from typing import Any

import pytest

from headwater.domain import json_depth
from tests.api_fixtures import RunningApi

LIMIT = 1024 * 1024
CHUNK = 64 * 1024
ANSWER_WITHIN = 10.0  # seconds; the server answers without waiting for the rest of the body


async def _raw_post(
    api: RunningApi,
    path: str,
    headers: dict[str, str],
    body_parts: AsyncIterator[bytes] | list[bytes],
) -> tuple[int, dict[str, str], Any]:
    """POST over a bare socket: the head, then ``body_parts`` (never more), then the answer."""
    url = urllib.parse.urlsplit(api.url + "/" + path)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    try:
        head = [f"POST {url.path} HTTP/1.1", f"Host: {url.netloc}"]
        head += [f"{name}: {value}" for name, value in headers.items()]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
        if isinstance(body_parts, list):
            for part in body_parts:
                writer.write(part)
        else:
            async for part in body_parts:
                writer.write(part)
        await writer.drain()
        async with asyncio.timeout(ANSWER_WITHIN):
            status_line = await reader.readline()
            answer_headers: dict[str, str] = {}
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode().partition(":")
                answer_headers[name.strip().lower()] = value.strip()
            length = int(answer_headers.get("content-length", "0"))
            text = await reader.readexactly(length)
    finally:
        writer.close()
    return int(status_line.split()[1]), answer_headers, json.loads(text) if text else None


def _chunked(total: int) -> list[bytes]:
    """``total`` bytes of a JSON string in chunked encoding, without the closing empty chunk."""
    parts, sent = [], 0
    while sent < total:
        size = min(CHUNK, total - sent)
        data = b'"' + b"x" * (size - 1) if sent == 0 else b"x" * size
        parts.append(f"{size:x}\r\n".encode() + data + b"\r\n")
        sent += size
    return parts


def _assert_too_large(status: int, body: Any) -> None:
    assert status == 413, body
    assert body["requestId"].startswith("req_")
    assert str(LIMIT) in body["message"]
    assert [e["field"] for e in body["errors"]] == ["body"]


async def test_a_declared_length_over_the_limit_is_413_before_the_body_is_read(
    api: RunningApi,
) -> None:
    auth = await api.create_user()
    headers = {"Authorization": auth, "Content-Type": "application/json"}
    headers["Content-Length"] = str(2 * LIMIT)
    status, _, body = await _raw_post(api, "instances", headers, [b'{"name": "' + b"x" * CHUNK])
    _assert_too_large(status, body)


async def test_a_chunked_body_over_the_limit_is_413_while_it_streams(api: RunningApi) -> None:
    auth = await api.create_user()
    headers = {
        "Authorization": auth,
        "Content-Type": "application/json",
        "Transfer-Encoding": "chunked",
    }
    # a little over the limit, and never the closing chunk: only a streaming count can answer
    status, _, body = await _raw_post(api, "instances", headers, _chunked(LIMIT + CHUNK))
    _assert_too_large(status, body)


async def test_a_body_longer_than_its_declared_length_is_413(api: RunningApi) -> None:
    auth = await api.create_user()
    chunks = [b"x" * CHUNK for _ in range(2 * LIMIT // CHUNK)]
    handed = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal handed
        handed += 1
        more = handed < len(chunks)
        return {"type": "http.request", "body": chunks[handed - 1], "more_body": more}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/elements/api-v2/instances",
        "raw_path": b"/elements/api-v2/instances",
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"authorization", auth.encode()),
            (b"content-type", b"application/json"),
            (b"content-length", b"100"),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
        "state": {},
    }
    await api.app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = json.loads(
        b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    )
    _assert_too_large(start["status"], body)
    assert handed == LIMIT // CHUNK + 1  # read up to the limit and one chunk past it, no further
    assert [m["type"] for m in sent].count("http.response.start") == 1


@pytest.mark.parametrize("authorization", [None, "User nobody, Organization nowhere", "Bearer x"])
async def test_an_unauthenticated_body_is_401_without_being_read(
    api: RunningApi, authorization: str | None
) -> None:
    headers = {"Content-Type": "application/json", "Content-Length": str(200 * 1024 * 1024)}
    if authorization is not None:
        headers["Authorization"] = authorization
    status, _, body = await _raw_post(api, "instances", headers, [b'{"name": "' + b"x" * CHUNK])
    assert status == 401, body
    assert body["requestId"].startswith("req_")
    assert "Authorization" in body["message"] or "credentials" in body["message"]


async def test_a_body_under_the_limit_is_read_and_validated_as_before(api: RunningApi) -> None:
    auth = await api.create_user()
    big_tags = ["t" * 1000 for _ in range(900)]  # ~0.9 MB of valid JSON, under the limit
    reply = await api.call("PATCH", "instances/999999", auth=auth, json={"tags": big_tags})
    assert reply.status == 400, reply.text[:300]
    assert reply.json["errors"][0]["field"] == "tags"  # read to the end and validated


@pytest.mark.api(max_body_bytes=4096)
async def test_the_limit_is_a_setting(api: RunningApi) -> None:
    auth = await api.create_user()
    reply = await api.call("POST", "instances", auth=auth, json={"name": "x" * 5000})
    assert reply.status == 413, reply.text
    assert "4096" in reply.json["message"]
    assert reply.json["errors"][0]["field"] == "body"


@pytest.mark.parametrize("depth", [json_depth.MAX_DEPTH + 1, 100_000])
async def test_json_nested_too_deep_is_400_naming_the_body(api: RunningApi, depth: int) -> None:
    auth = await api.create_user()
    for document in ["[" * depth + "]" * depth, '{"a":' * depth + "1" + "}" * depth]:
        reply = await api.call(
            "POST",
            "instances",
            auth=auth,
            data=document,
            headers={"Content-Type": "application/json"},
        )
        assert reply.status == 400, reply.text[:300]
        assert reply.json["errors"] == [
            {
                "field": "body",
                "problem": f"the JSON is nested more than {json_depth.MAX_DEPTH} levels deep",
            }
        ]
        assert str(json_depth.MAX_DEPTH) in reply.json["message"]


async def test_json_at_the_depth_bound_and_brackets_in_strings_are_not_refused(
    api: RunningApi,
) -> None:
    auth = await api.create_user()
    nested: Any = "deep"
    for _ in range(json_depth.MAX_DEPTH - 2):
        nested = [nested]
    body = api.docs_body("code", {"event.poller.configuration": None})
    body["name"] = "[" * 500 + '\\"{' * 100
    body["tags"] = [nested]  # depth: body 1, tags 2, then the nested lists
    reply = await api.call("POST", "instances", auth=auth, json=body)
    assert reply.status == 400, reply.text
    assert "nested" not in reply.text
    assert reply.json["errors"][0]["field"].startswith("tags")


@pytest.mark.parametrize("key", ["event.poller.configuration", "event.notification.retry.schedule"])
async def test_json_text_nested_too_deep_in_a_configuration_value_is_400_naming_it(
    api: RunningApi, key: str
) -> None:
    auth = await api.create_user()
    body = api.docs_body("code", {key: "[" * 100_000 + "]" * 100_000})
    reply = await api.call("POST", "instances", auth=auth, json=body)
    assert reply.status == 400, reply.text[:300]
    fields = {e["field"]: e["problem"] for e in reply.json["errors"]}
    assert json_depth.problem() in fields[f"configuration.{key}"]


async def test_a_client_that_sends_its_whole_big_body_anyway_gets_413(api: RunningApi) -> None:
    auth = await api.create_user()

    async def twenty_megabytes() -> AsyncIterator[bytes]:
        yield b'{"name": "'
        for _ in range(20 * 1024 * 1024 // CHUNK):
            yield b"x" * CHUNK
        yield b'"}'

    reply = await api.call(
        "POST",
        "instances",
        auth=auth,
        data=twenty_megabytes(),
        headers={"Content-Type": "application/json"},
    )
    _assert_too_large(reply.status, reply.json)
    assert (await api.call("GET", "instances", auth=auth)).status == 200  # the server is fine
