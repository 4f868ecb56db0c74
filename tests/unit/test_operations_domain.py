"""The pure parts of operations alerts and key rotation: notice bodies, subjects, headers."""

from __future__ import annotations

import datetime as dt
import json

from headwater.domain import alerts, signing
from tests.delivery_support import Checked, check_signatures

AT = dt.datetime(2026, 12, 4, 4, 20, 38, 537000, tzinfo=dt.UTC)
OLD = signing.generate_key()
NEW = signing.generate_key()
BODY = b'{"message":{"eventId":"msg_1"}}'


def test_a_poller_notice_names_the_poller_and_others_do_not() -> None:
    disabled = alerts.Transition(alerts.POLLER, True, 1, 42, "too many failures", AT, 7, "contacts")
    assert json.loads(alerts.body("msg_a", disabled)) == {
        "id": "msg_a",
        "type": "poller.disabled",
        "organizationId": 1,
        "instanceId": 42,
        "pollerId": 7,
        "resource": "contacts",
        "reason": "too many failures",
        "at": "2026-12-04T04:20:38.537Z",
    }
    valid = alerts.Transition(alerts.INSTANCE, False, 1, 42, "re-authenticated", AT)
    assert json.loads(alerts.body("msg_b", valid))["type"] == "instance.valid"
    assert "pollerId" not in json.loads(alerts.body("msg_b", valid))


def test_subjects_name_their_condition_and_poller() -> None:
    assert alerts.subject(alerts.POLLER, 7) == "poller:7"
    assert alerts.condition_of("poller:7") == (alerts.POLLER, 7)
    assert alerts.condition_of("backlog") == (alerts.BACKLOG, None)
    assert len(set(alerts.TYPES)) == 8


def test_backlog_reasons_say_which_side_of_the_threshold() -> None:
    old = AT - dt.timedelta(seconds=1000)
    assert "1000 s old, over the threshold of 900 s" in alerts.backlog_reason(old, AT, 900)
    assert "under" in alerts.backlog_reason(AT - dt.timedelta(seconds=10), AT, 900)
    assert "no undelivered" in alerts.backlog_reason(None, AT, 900)


def test_during_an_overlap_both_keys_sign_and_elements_keeps_the_old_one() -> None:
    headers = signing.headers(NEW, "msg_1", 1_796_358_038, BODY, previous=OLD)
    assert len(headers["webhook-signature"].split()) == 2
    assert check_signatures(OLD, headers, BODY).elements is True
    assert check_signatures(OLD, headers, BODY).standard is True
    assert check_signatures(NEW, headers, BODY).standard is True
    assert check_signatures(NEW, headers, BODY).elements is False
    alone = signing.headers(NEW, "msg_1", 1_796_358_038, BODY)
    assert alone == signing.headers(NEW, "msg_1", 1_796_358_038, BODY, previous=NEW)
    assert check_signatures(OLD, alone, BODY) == Checked(elements=False, standard=False)


def test_fingerprints_tell_keys_apart_without_showing_them() -> None:
    assert signing.fingerprint(OLD) != signing.fingerprint(NEW)
    assert signing.fingerprint(OLD).startswith("sha256:") and OLD not in signing.fingerprint(OLD)
    assert len(signing.fingerprint(OLD)) == len("sha256:") + 16
