"""The Authorization header is parsed strictly, and each fault is named without echoing it."""

from __future__ import annotations

import pytest

from headwater.api import auth
from headwater.errors import AuthenticationError


def test_user_and_organization() -> None:
    creds = auth.parse("User abc, Organization def")
    assert creds == auth.Credentials(user="abc", organization="def", element=None)


def test_element_token_and_any_order() -> None:
    creds = auth.parse("Organization o1,User u1 , Element t1")
    assert (creds.user, creds.organization, creds.element) == ("u1", "o1", "t1")


@pytest.mark.parametrize(
    ("header", "says"),
    [
        (None, "missing"),
        ("", "missing"),
        ("   ", "missing"),
        ("User abc", "lacks the Organization secret"),
        ("Organization abc", "lacks the User secret"),
        ("Element t", "lacks the User secret"),
        ("User , Organization o", "User part"),
        ("User a b, Organization o", "User part"),
        ("User a, Organization", "Organization part"),
        ("User a, Organization o, Element", "Element part"),
        ("User a, User b, Organization o", "User part twice"),
        ("Bearer xyz", "a part that is not User, Organization or Element"),
        ("User a, Organization o, Account x", "a part that is not User, Organization or Element"),
        ("User a,, Organization o", "a part that is not User, Organization or Element"),
    ],
)
def test_malformed_headers_are_named(header: str | None, says: str) -> None:
    with pytest.raises(AuthenticationError) as caught:
        auth.parse(header)
    assert says in caught.value.message
    assert caught.value.status == 401


@pytest.mark.parametrize(
    "header",
    [
        "Bearer s3cr3t-token-value",
        "User u-secret-1, Organization o-secret-2, Account acct-secret-3",
        "User u-secret-1 extra-bit, Organization o-secret-2",
        "User u-secret-1, User u-secret-9, Organization o-secret-2",
        "<script>alert(1)</script>",
    ],
)
def test_no_part_of_a_malformed_header_is_echoed(header: str) -> None:
    with pytest.raises(AuthenticationError) as caught:
        auth.parse(header)
    words = {w for w in header.replace(",", " ").split() if w not in {"User", "Organization"}}
    echoed = sorted(w for w in words if w in caught.value.message)
    assert echoed == [], caught.value.message
