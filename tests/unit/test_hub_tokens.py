"""Hub paging tokens: opaque, tamper-evident enough, tied to their listing."""

from __future__ import annotations

import pytest

from headwater import errors
from headwater.elements import hub_tokens


def test_a_token_round_trips_offset_and_last_id() -> None:
    token = hub_tokens.encode("contacts", 400, "l-0001:399", "q1")
    assert "=" not in token
    position = hub_tokens.decode(token, "contacts", "q1")
    assert position == hub_tokens.Position(offset=400, last_id="l-0001:399")


def test_no_token_is_the_start() -> None:
    assert hub_tokens.decode(None, "lists") == hub_tokens.Position(0, None)
    assert hub_tokens.decode("", "lists") == hub_tokens.Position(0, None)


@pytest.mark.parametrize(
    ("token", "problem"),
    [
        ("%%%not-base64", "is not a page token of this API"),
        (hub_tokens.encode("lists", 3, None), "is not a page token of this listing"),
        (hub_tokens.encode("contacts", 3, None, "other"), "another where or fields"),
    ],
)
def test_a_foreign_token_is_refused_naming_next_page(token: str, problem: str) -> None:
    with pytest.raises(errors.InputError) as caught:
        hub_tokens.decode(token, "contacts", "q1")
    assert caught.value.problems[0][0] == "nextPage"
    assert problem in caught.value.problems[0][1]


def test_fingerprints_differ_by_query() -> None:
    assert hub_tokens.fingerprint("l-0001", "a") != hub_tokens.fingerprint("l-0001", "b")
    assert hub_tokens.fingerprint("l-0001", "a") == hub_tokens.fingerprint("l-0001", "a")
