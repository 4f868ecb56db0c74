"""Configuration item ids: fixed for known keys, derived and stable for the others."""

from __future__ import annotations

from headwater.domain import config_items


def test_known_keys_have_their_catalogue_position() -> None:
    assert config_items.item_id("oauth.api.key") == 1
    assert config_items.item_id("event.notification.callback.url") == 6
    assert config_items.item_id("event.notification.type") == 14
    ids = [config_items.item_id(key) for key in config_items.CATALOGUE]
    assert ids == list(range(1, len(config_items.CATALOGUE) + 1))


def test_other_keys_get_a_stable_id_above_the_catalogue() -> None:
    first = config_items.item_id("site.id")
    assert first == config_items.item_id("site.id")
    assert config_items.FIRST_DERIVED_ID <= first < 2**31
    assert first != config_items.item_id("site.name")


def test_resolve_takes_a_key_or_an_id() -> None:
    keys = ["event.vendor.type", "site.id"]
    assert config_items.resolve("event.vendor.type", keys) == "event.vendor.type"
    assert config_items.resolve("5", keys) == "event.vendor.type"
    assert config_items.resolve(str(config_items.item_id("site.id")), keys) == "site.id"
    assert config_items.resolve("6", keys) is None  # a known key, but not among these
    for nothing in ("no.such.key", "0", "-5", "٥", "²", "9" * 40, ""):
        assert config_items.resolve(nothing, keys) is None, nothing
