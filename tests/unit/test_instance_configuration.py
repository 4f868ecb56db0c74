"""Configuration bookkeeping: secrets split and masked, PATCH merges."""

from __future__ import annotations

from headwater.instances import configuration as conf


def test_split_and_mask() -> None:
    plain, secret = conf.split({"oauth.api.key": "id", "oauth.api.secret": "s"})
    assert plain == {"oauth.api.key": "id"}
    assert secret == {"oauth.api.secret": "s"}
    assert conf.masked(plain, secret) == {"oauth.api.key": "id", "oauth.api.secret": conf.MASK}
    shown = conf.masked(plain, secret, revealed=["oauth.api.secret"])
    assert shown["oauth.api.secret"] == "s"


def test_merge_null_removes_and_mask_keeps() -> None:
    current = {"a": 1, "oauth.api.secret": "s", "b": 2}
    merged, problems = conf.merge(current, {"a": None, "oauth.api.secret": conf.MASK, "c": 3})
    assert merged == {"oauth.api.secret": "s", "b": 2, "c": 3}
    assert problems == []


def test_merge_replace_keeps_only_given_keys() -> None:
    merged, _ = conf.merge(
        {"a": 1, "oauth.api.secret": "s"}, {"oauth.api.secret": conf.MASK}, replace=True
    )
    assert merged == {"oauth.api.secret": "s"}


def test_mask_without_stored_secret_is_a_problem() -> None:
    _, problems = conf.merge({}, {"event.vendor.signature.key": conf.MASK})
    assert problems and problems[0][0] == "configuration.event.vendor.signature.key"


def test_signature_key_generated_only_when_absent() -> None:
    raw: dict[str, object] = {}
    assert conf.with_signature_key(raw)
    assert str(raw[conf.SIGNATURE_KEY]).startswith("whsec_")
    assert not conf.with_signature_key(raw)


def test_oauth_problems_name_missing_keys() -> None:
    problems = conf.oauth_problems({"oauth.api.key": "id", "oauth.api.secret": 5})
    assert [f for f, _ in problems] == [
        "configuration.oauth.api.secret",
        "configuration.oauth.callback.url",
    ]
