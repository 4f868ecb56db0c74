"""The notification body and its batches (DESIGN.md §4), and reading an instance's settings."""

from __future__ import annotations

import datetime as dt
import json

from headwater.delivery import dispatch, joining, outbox

T0 = dt.datetime(2026, 11, 29, 10, 15, 0, 123456, tzinfo=dt.UTC)


def _event(n: int, object_type: str = "contacts") -> outbox.Event:
    return outbox.Event(
        id=100 + n,
        object_type=object_type,
        object_id=f"l-0001:{n}",
        event_type="UPDATED",
        date=T0,
        poll_date=T0 + dt.timedelta(minutes=1),
        element_key="acton",
        hub_key="marketing",
        raw={"_contact_id_": f"l-0001:{n}", "First Name": "Ada"},
    )


def test_the_body_is_the_exact_json_of_the_design() -> None:
    text = outbox.body(
        notification_id="msg_" + "a" * 32,
        instance_id=42,
        element_key="acton",
        events=[_event(7)],
    )
    assert json.loads(text) == {
        "message": {
            "eventId": "msg_" + "a" * 32,
            "instance_id": 42,
            "instanceId": 42,
            "elementKey": "acton",
            "events": [
                {
                    "id": 107,
                    "objectType": "contacts",
                    "objectId": "l-0001:7",
                    "eventType": "UPDATED",
                    "date": "2026-11-29T10:15:00.123Z",
                    "pollDate": "2026-11-29T10:16:00.123Z",
                    "elementKey": "acton",
                    "hubKey": "marketing",
                }
            ],
            "raw": {
                "objectType": "contacts",
                "contacts": [{"_contact_id_": "l-0001:7", "First Name": "Ada"}],
                "instance_id": 42,
            },
        }
    }
    assert text.startswith('{"message":{"eventId":"msg_')  # compact, keys in the design's order
    assert " " not in text.replace("First Name", "")


def test_the_body_keeps_unicode_as_utf8() -> None:
    event = _event(1)
    event = outbox.Event(**{**event.__dict__, "raw": {"name": "Zoë 東京"}})
    text = outbox.body(notification_id="msg_x", instance_id=1, element_key="acton", events=[event])
    assert "Zoë 東京" in text
    assert json.loads(text.encode("utf-8"))["message"]["raw"]["contacts"] == [{"name": "Zoë 東京"}]


def test_batches_hold_ten_events_of_one_type_in_order() -> None:
    events = [_event(n) for n in range(23)] + [_event(n, "lists") for n in range(3)]
    events += [_event(n) for n in range(30, 32)]
    sizes = [(b[0].object_type, len(b)) for b in outbox.batches(events)]
    assert sizes == [
        ("contacts", 10),
        ("contacts", 10),
        ("contacts", 3),
        ("lists", 3),
        ("contacts", 2),
    ]
    assert [e for b in outbox.batches(events) for e in b] == events
    assert list(outbox.batches([])) == []


def test_notification_ids_are_msg_and_32_hex() -> None:
    ids = {outbox.new_notification_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(i.startswith("msg_") and len(i) == 36 and int(i[4:], 16) >= 0 for i in ids)


def test_the_callback_url_needs_notifications_enabled() -> None:
    url = "https://app.example.com/events"
    enabled = {outbox.ENABLED_KEY: True, outbox.CALLBACK_KEY: url}
    assert outbox.callback_url(enabled) == url
    assert outbox.callback_url({**enabled, outbox.ENABLED_KEY: "true"}) == url
    assert outbox.callback_url({**enabled, outbox.ENABLED_KEY: False}) is None
    assert outbox.callback_url({outbox.ENABLED_KEY: True}) is None
    assert outbox.callback_url({**enabled, outbox.CALLBACK_KEY: "  "}) is None


def test_the_instance_schedule_wins_over_the_default() -> None:
    default = (4.0, 16.0)
    assert dispatch.schedule_of({}, default) == [4.0, 16.0]
    assert dispatch.schedule_of({outbox.SCHEDULE_KEY: [1, 2.5]}, default) == [1.0, 2.5]
    assert dispatch.schedule_of({outbox.SCHEDULE_KEY: "1, 2"}, default) == [1.0, 2.0]
    assert dispatch.schedule_of({outbox.SCHEDULE_KEY: "soon"}, default) == [4.0, 16.0]


def test_a_test_notification_has_the_usual_shape() -> None:
    text = outbox.test_body(notification_id="msg_t", instance_id=3, element_key="acton", now=T0)
    message = json.loads(text)["message"]
    assert message["eventId"] == "msg_t" and message["instanceId"] == message["instance_id"] == 3
    assert message["test"] is True
    assert message["raw"]["objectType"] == "test" and len(message["raw"]["test"]) == 1
    assert message["events"][0]["objectType"] == "test"


def test_events_joining_a_waiting_notification_read_as_if_it_had_been_built_with_them() -> None:
    def text(events: list[outbox.Event]) -> str:
        return outbox.body(
            notification_id="msg_j", instance_id=4, element_key="acton", events=events
        )

    joined, count = joining.joined(text([_event(1)]), [_event(2), _event(3)], batch_size=20)
    assert count == 2 and joined == text([_event(1), _event(2), _event(3)])
    full, count = joining.joined(text([_event(1)]), [_event(2), _event(3)], batch_size=2)
    assert count == 1 and full == text([_event(1), _event(2)])
    other, count = joining.joined(text([_event(1)]), [_event(2, "lists"), _event(3)], 20)
    assert count == 0 and other == text([_event(1)])
