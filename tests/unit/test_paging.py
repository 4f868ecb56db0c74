"""Page tokens are opaque, round-trip, and a bad one names ``nextPage``."""

from __future__ import annotations

import pytest

from headwater.api import paging
from headwater.errors import InputError


def test_token_round_trip() -> None:
    token = paging.encode({"after": 41, "k": "x"})
    assert paging.decode(token) == {"after": 41, "k": "x"}
    assert paging.PageRequest(10, paging.id_token(41)).after_id() == 41
    assert paging.PageRequest(10, None).after_id() is None


@pytest.mark.parametrize("token", ["%%%", "bm90IGpzb24", paging.encode({"after": "x"}), "W10"])
def test_bad_tokens_name_next_page(token: str) -> None:
    with pytest.raises(InputError) as caught:
        paging.PageRequest(10, token).after_id()
    assert caught.value.problems[0][0] == "nextPage"


def test_split_tells_whether_more_remain() -> None:
    request = paging.PageRequest(2, None)
    assert paging.split([1, 2, 3], request) == ([1, 2], True)
    assert paging.split([1, 2], request) == ([1, 2], False)
