"""Reading inbound webhooks: bodies, instance ids, the finder, changes, and their verification."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from headwater.domain import inbound, inbound_checks, signing

KEY = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODk="
SVIX = inbound.Spec(
    verification="svix",
    types={"contact.added": "CREATED", "contact.updated": "UPDATED"},
    object_type="contacts",
    id_field="data.contact._contact_id_",
    record_field="data.contact",
    date_field="data.contact.__modified_date",
    date_format="milliseconds",
)


def _received(
    body: bytes, content_type: str = "application/json", **headers: str
) -> inbound.Received:
    return inbound.Received(headers=headers, query={}, body=body, content_type=content_type)


def test_json_form_and_query_string_bodies() -> None:
    assert inbound.parse_body(_received(b'{"type": "x"}')) == {"type": "x"}
    form = b"type=profile&data%5Bmerges%5D%5BFNAME%5D=Ada&data%5Bemail%5D=a%40b.c"
    parsed = inbound.parse_body(_received(form, "application/x-www-form-urlencoded"))
    assert parsed == {"type": "profile", "data": {"merges": {"FNAME": "Ada"}, "email": "a@b.c"}}
    query = inbound.Received(headers={}, query={"type": "ping", "data[id]": "7"}, body=b"")
    assert inbound.parse_body(query) == {"type": "ping", "data": {"id": "7"}}
    for bad, words in [(b"", "empty"), (b"[1]", "JSON object"), (b"{nope", "not JSON")]:
        with pytest.raises(inbound.BodyError, match=words):
            inbound.parse_body(_received(bad))


def test_instance_ids_in_paths_and_headers() -> None:
    assert inbound.encode_instance(12) == "MTI"
    assert inbound.path_instance("MTI") == inbound.path_instance("MTI=") == 12
    assert inbound.path_instance("not base64!") is None
    assert inbound.path_instance("YWJj") is None  # "abc": not an id
    assert inbound.header_instances("3, 4,x") == [3, 4]


def test_the_finder_compares_a_configuration_value_with_the_body() -> None:
    configuration = {"site.id": "s-1"}
    assert inbound.finder_matches("site.id|data.site", configuration, {"data": {"site": "s-1"}})
    assert not inbound.finder_matches("site.id|data.site", configuration, {"data": {"site": "2"}})
    assert not inbound.finder_matches("other|data.site", configuration, {"data": {"site": "s-1"}})


def test_changes_are_mapped_and_unknown_types_kept() -> None:
    body = {
        "type": "contact.added",
        "data": {"contact": {"_contact_id_": "l-1:2", "__modified_date": 1000}},
    }
    [added] = inbound.read_changes(SVIX, body, message_id="msg_1")
    assert (added.object_type, added.object_id, added.event_type) == (
        "contacts",
        "l-1:2",
        "CREATED",
    )
    assert added.record == body["data"]["contact"] and added.date is not None
    [other] = inbound.read_changes(SVIX, {"type": "form.submitted"}, message_id="msg_2")
    assert (other.object_type, other.object_id, other.event_type) == (
        "form.submitted",
        "msg_2",
        "UNKNOWN",
    )
    with pytest.raises(inbound.BodyError, match="no record id"):
        inbound.read_changes(SVIX, {"type": "contact.added"}, message_id="msg_3")


def test_ids_tried_in_order_and_transformed() -> None:
    spec = inbound.Spec(
        verification="urlSecret",
        types={"upemail": "UPDATED", "subscribe": "CREATED"},
        id_field="data.new_email|data.email",
        id_transform="md5Lowercase",
    )
    [moved] = inbound.read_changes(
        spec,
        {"type": "upemail", "data": {"new_email": "B@x.io", "old_email": "a@x.io"}},
        message_id="",
    )
    [joined] = inbound.read_changes(
        spec, {"type": "subscribe", "data": {"email": "A@x.io"}}, message_id=""
    )
    assert moved.object_id == hashlib.md5(b"b@x.io").hexdigest()
    assert joined.object_id == hashlib.md5(b"a@x.io").hexdigest()


def test_svix_signatures_fresh_stale_and_wrong() -> None:
    body = json.dumps({"type": "contact.added"}).encode()
    now = 1_800_000_000
    signature = signing.standard_signature(KEY, "msg_1", now, body)
    good = _received(
        body, **{"svix-id": "msg_1", "svix-timestamp": str(now), "svix-signature": signature}
    )
    prefixed = _received(
        body,
        **{"webhook-id": "msg_1", "webhook-timestamp": str(now), "webhook-signature": signature},
    )
    assert inbound_checks.verify(SVIX, KEY, good, now_s=now + 299) == inbound_checks.Verified(
        "msg_1"
    )
    assert inbound_checks.verify(SVIX, KEY, prefixed, now_s=now) == inbound_checks.Verified("msg_1")
    stale = inbound_checks.verify(SVIX, KEY, good, now_s=now + 301)
    assert isinstance(stale, inbound_checks.Refused) and "stale" in stale.problem
    wrong = inbound_checks.verify(SVIX, "whsec_" + "A" * 44, good, now_s=now)
    assert isinstance(wrong, inbound_checks.Refused) and "does not match" in wrong.problem
    unkeyed = inbound_checks.verify(SVIX, None, good, now_s=now)
    assert (
        isinstance(unkeyed, inbound_checks.Refused)
        and "event.vendor.signature.key" in unkeyed.problem
    )


def test_hmac_headers_and_url_secrets() -> None:
    spec = inbound.Spec(
        verification="hmac",
        types={},
        hmac_header="X-Sig",
        hmac_encoding="hex",
        hmac_prefix="sha256=",
    )
    body = b'{"a":1}'
    digest = hmac.new(b"k" * 16, body, "sha256").hexdigest()
    signed = _received(body, **{"x-sig": "sha256=" + digest})
    assert inbound_checks.verify(spec, "k" * 16, signed, now_s=0) == inbound_checks.Verified(None)
    assert isinstance(
        inbound_checks.verify(spec, "j" * 16, signed, now_s=0), inbound_checks.Refused
    )
    secret = inbound.Spec(verification="urlSecret", types={})
    given = inbound.Received(headers={}, query={"secret": "s" * 16}, body=body)
    assert inbound_checks.verify(secret, "s" * 16, given, now_s=0) == inbound_checks.Verified(None)
    assert isinstance(
        inbound_checks.verify(secret, "t" * 16, given, now_s=0), inbound_checks.Refused
    )
