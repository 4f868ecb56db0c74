"""Declared hubs without a provider: hub paths to resources, ``where`` to query parameters,
query encoding, and each paging style's next position."""

from __future__ import annotations

from typing import Any

import pytest

from headwater import errors
from headwater.elements import declaration, hub_tokens
from headwater.elements import declared_paging as paging
from headwater.elements import declared_paths as hub_paths

NOTES = declaration.Resource(
    name="notes",
    path="/hubs/crm/folders/{folderId}/notes",
    where=(
        declaration.WhereTerm("updated_since", "=", "updated_since"),
        declaration.WhereTerm("updated", ">=", "updated_min"),
    ),
)
FOLDERS = declaration.Resource(name="folders", path="/hubs/crm/folders")
START = hub_tokens.Position()


def test_hub_paths_name_a_collection_or_one_record() -> None:
    found = hub_paths.resolve([FOLDERS, NOTES], "/elements/api-v2/hubs/crm/folders/f%2F1/notes")
    assert (found.resource, found.values, found.record_id) == (NOTES, {"folderId": "f/1"}, None)
    one = hub_paths.resolve([FOLDERS, NOTES], "/hubs/crm/folders/f1/notes/n%3A7?fields=id")
    assert (one.resource, one.values, one.record_id) == (NOTES, {"folderId": "f1"}, "n:7")
    folder = hub_paths.resolve([FOLDERS, NOTES], "/hubs/crm/folders/f1")
    assert (folder.resource, folder.record_id) == (FOLDERS, "f1")
    with pytest.raises(errors.NotFoundError):
        hub_paths.resolve([FOLDERS, NOTES], "/hubs/crm/people")


def test_provider_paths_take_encoded_values() -> None:
    filled = hub_paths.fill("/folders/{folderId}/notes/{id}", {"folderId": "a b/c", "id": "l:1"})
    assert filled == "/folders/a%20b%2Fc/notes/l:1"


def test_where_terms_map_to_the_declared_parameters() -> None:
    where = "updated_since = '2026-01-02T03:04:05+00:00' and UPDATED >= '2026-01-01'"
    assert hub_paths.where_params(NOTES, where) == [
        ("updated_since", "2026-01-02T03:04:05+00:00"),
        ("updated_min", "2026-01-01"),
    ]
    assert hub_paths.where_params(NOTES, "updated_since = 1700000000000") == [
        ("updated_since", "1700000000000")
    ]
    assert hub_paths.where_params(NOTES, None) == [] == hub_paths.where_params(NOTES, "  ")


@pytest.mark.parametrize(
    "where",
    ["updated_since > '1'", "title = 'x'", "updated_since = '1' or updated >= '2'"],
)
def test_where_terms_not_declared_are_refused_naming_where(where: str) -> None:
    with pytest.raises(errors.InputError) as refused:
        hub_paths.where_params(NOTES, where)
    [(field, problem)] = refused.value.problems
    assert field == "where"
    assert "notes can be filtered by updated_since = '<value>' and updated >= '<value>'" in problem
    with pytest.raises(errors.InputError):
        hub_paths.where_params(FOLDERS, "updated_since = '1'")


def test_query_values_arrive_as_written() -> None:
    encoded = hub_paths.encode_query([("since", "2026-01-02T03:04:05+00:00"), ("q", "a b&c=d")])
    assert encoded == "since=2026-01-02T03%3A04%3A05%2B00%3A00&q=a%20b%26c%3Dd"


def test_the_page_size_is_capped() -> None:
    rules = declaration.Paging("offset", max_page_size=50, offset_param="o", size_param="n")
    assert [paging.page_size(rules, n) for n in (0, 10, 5000)] == [1, 10, 50]
    assert paging.page_size(None, 5000) == 5000


def _next(rules: declaration.Paging, position: hub_tokens.Position, **answer: Any) -> Any:
    return paging.following(
        rules,
        position,
        answer.pop("size", 2),
        body=answer.pop("body", {}),
        headers=answer.pop("headers", {}),
        records=answer.pop("records", []),
        request_url="https://api.example/v1/things?limit=2",
    )


def test_offset_paging() -> None:
    rules = declaration.Paging("offset", offset_param="offset", size_param="limit")
    assert paging.params(rules, START, 2) == [("offset", "0"), ("limit", "2")]
    after = _next(rules, START, records=[{}, {}])
    assert after == hub_tokens.Position(offset=2)
    assert paging.params(rules, after, 2) == [("offset", "2"), ("limit", "2")]
    assert _next(rules, after, records=[{}]) is None, "a short page is the last"
    assert _next(rules, after, records=[]) is None
    counted = declaration.Paging(
        "offset", offset_param="o", size_param="n", total_field="meta.total"
    )
    assert _next(counted, START, records=[{}, {}], body={"meta": {"total": 2}}) is None
    assert _next(counted, START, records=[{}], body={"meta": {"total": "5"}}) == (
        hub_tokens.Position(offset=1)
    ), "with a total, a short page is not the end"


def test_page_number_paging() -> None:
    rules = declaration.Paging("pageNumber", page_param="page", size_param="per_page", first_page=0)
    first = paging.start(rules)
    assert paging.params(rules, first, 2) == [("page", "0"), ("per_page", "2")]
    assert _next(rules, first, records=[{}, {}]) == hub_tokens.Position(offset=1)
    assert _next(rules, first, records=[{}]) is None


def test_page_token_paging() -> None:
    rules = declaration.Paging(
        "pageToken", token_param="cursor", size_param="limit", next_token_field="meta.next"
    )
    assert paging.params(rules, START, 2) == [("limit", "2")]
    after = _next(rules, START, body={"meta": {"next": "abc"}})
    assert after == hub_tokens.Position(cursor="abc")
    assert paging.params(rules, after, 2) == [("cursor", "abc"), ("limit", "2")]
    assert _next(rules, after, body={"meta": {"next": None}}) is None
    assert _next(rules, after, body={"meta": {"next": "abc"}}) is None, "a repeated token ends"
    with pytest.raises(errors.ProviderUnavailable):
        _next(rules, START, body={"meta": {"next": {"x": 1}}})


def test_link_paging() -> None:
    rules = declaration.Paging("link", size_param="limit")
    headers = {
        "Link": '<https://api.example/v1/things?page=1>; rel="prev", '
        '</v1/things?page=3&limit=2>; rel="next last"'
    }
    after = _next(rules, START, headers=headers)
    assert after == hub_tokens.Position(cursor="https://api.example/v1/things?page=3&limit=2")
    assert paging.params(rules, after, 2) == []
    assert _next(rules, after, headers={"Link": '<https://x/1>; rel="prev"'}) is None
    assert _next(rules, after, headers={"link": "<https://api.example/n>; rel=next"}) == (
        hub_tokens.Position(cursor="https://api.example/n")
    )
    assert paging.same_origin("https://API.example/v1/x", "https://api.example/v1")
    assert not paging.same_origin("http://api.example/v1/x", "https://api.example/v1")
    assert not paging.same_origin("https://api.example:8443/x", "https://api.example/v1")


def test_page_tokens_carry_a_provider_cursor() -> None:
    token = hub_tokens.encode("k", 0, None, "q", cursor="https://api.example/n")
    assert hub_tokens.decode(token, "k", "q") == hub_tokens.Position(cursor="https://api.example/n")
    assert hub_tokens.decode(hub_tokens.encode("k", 3, "l", "q"), "k", "q") == (
        hub_tokens.Position(offset=3, last_id="l")
    )
