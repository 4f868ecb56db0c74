from __future__ import annotations

import copy
import dataclasses
import json

import pytest

from headwater.domain import config, resources
from headwater.errors import InputError

PREFIX = "configuration."
POLLER = "configuration.event.poller.configuration"


@dataclasses.dataclass(frozen=True)
class Element:
    key: str = "acton"
    event_methods: frozenset[str] = frozenset({"polling"})


ACTON = Element()

# The body of the Act-On events docs (issue text), with its syntax errors fixed.
DOCS = {
    "oauth.api.key": "<client id>",
    "oauth.api.secret": "<client secret>",
    "oauth.callback.url": "https://app.example.com/callback",
    "event.notification.enabled": True,
    "event.vendor.type": "polling",
    "event.poller.refresh_interval": "15",
    "event.notification.callback.url": "https://app.example.com/events",
    "event.poller.configuration": {
        "contacts": {
            "url": "/hubs/marketing/lists/{listId}/contacts?where=modafter='${epoch}'",
            "idField": "_contact_id_",
            "datesConfiguration": {
                "updatedDateField": "__modified_date",
                "updatedDateFormat": "milliseconds",
                "createdDateField": "__created_date",
                "createdDateFormat": "milliseconds",
            },
        }
    },
}


def normalize(
    raw: dict[str, object],
    *,
    element: Element = ACTON,
    min_refresh_seconds: float = 60.0,
    allow_private_callbacks: bool = False,
    prefix: str = "configuration",
) -> dict[str, object]:
    return config.normalize(
        raw,
        element=element,
        min_refresh_seconds=min_refresh_seconds,
        allow_private_callbacks=allow_private_callbacks,
        prefix=prefix,
    )


def docs(**changes: object) -> dict[str, object]:
    body = copy.deepcopy(DOCS)
    for key, value in changes.items():
        body[key] = value
    return body


def with_contacts(**changes: object) -> dict[str, object]:
    body = copy.deepcopy(DOCS)
    resource = body["event.poller.configuration"]["contacts"]  # type: ignore[index]
    for key, value in changes.items():
        if value is ...:
            del resource[key]
        else:
            resource[key] = value
    return body


def problems_of(raw: dict[str, object], **kwargs: object) -> dict[str, str]:
    with pytest.raises(InputError) as caught:
        normalize(raw, **kwargs)  # type: ignore[arg-type]
    return dict(caught.value.problems)


def test_the_docs_body_normalizes_cleanly() -> None:
    canonical = normalize(docs())
    assert canonical["event.notification.enabled"] is True
    assert canonical["event.vendor.type"] == "polling"
    assert canonical["event.poller.refresh_interval"] == 15.0
    assert canonical["event.poller.configuration"] == DOCS["event.poller.configuration"]
    assert canonical["oauth.api.secret"] == "<client secret>"
    resource = resources.read(canonical)["contacts"]
    assert resource == resources.Resource(
        name="contacts",
        url="/hubs/marketing/lists/{listId}/contacts?where=modafter='${epoch}'",
        id_field="_contact_id_",
        updated_field="__modified_date",
        updated_format="milliseconds",
        created_field="__created_date",
        created_format="milliseconds",
    )
    assert resource.filter_by_updated_date is True
    assert resource.filter_by_current_date is False
    assert resource.poll_delay == 0.0 and resource.page_size is None


def test_normalizing_twice_changes_nothing() -> None:
    once = normalize(docs(**{"event.notification.retry.schedule": "4,16"}))
    assert normalize(once) == once


# Each bad input the issue names, and the field it must name.
ISSUE_CASES = [
    pytest.param(
        docs(**{"event.poller.refresh_interval": "abc"}),
        "configuration.event.poller.refresh_interval",
        "number",
        id="refresh interval abc",
    ),
    pytest.param(
        docs(**{"event.notification.callback.url": "app.example.com/events"}),
        "configuration.event.notification.callback.url",
        "http",
        id="callback without scheme",
    ),
    pytest.param(with_contacts(url=...), f"{POLLER}.contacts.url", "required", id="no url"),
    pytest.param(
        with_contacts(idField=...), f"{POLLER}.contacts.idField", "required", id="no idField"
    ),
    pytest.param(
        with_contacts(datesConfiguration={"updatedDateField": "d", "updatedDateFormat": "epoch"}),
        f"{POLLER}.contacts.datesConfiguration.updatedDateFormat",
        "unknown date format 'epoch'",
        id="unknown date format",
    ),
    pytest.param(
        docs(**{"event.poller.frequency": 5}),
        "configuration.event.poller.frequency",
        "unknown configuration key 'event.poller.frequency'",
        id="unknown event key",
    ),
    pytest.param(
        docs(**{"event.vendor.type": "webhooks"}),
        "configuration.event.vendor.type",
        "'webhooks' is not supported by element 'acton' (supported: polling)",
        id="unsupported method",
    ),
]


@pytest.mark.parametrize(("raw", "field", "words"), ISSUE_CASES)
def test_each_bad_input_of_the_issue_names_its_field(
    raw: dict[str, object], field: str, words: str
) -> None:
    problems = problems_of(raw)
    assert field in problems, problems
    assert words in problems[field]


def test_every_problem_is_reported_at_once() -> None:
    raw = docs(
        **{
            "event.poller.refresh_interval": "abc",
            "event.notification.callback.url": "ftp://example.com",
            "event.vendor.signature.key": "short",
            "event.unknown": 1,
        }
    )
    raw["event.poller.configuration"] = {"contacts": {"pageSize": 0}}
    problems = problems_of(raw)
    assert set(problems) == {
        "configuration.event.poller.refresh_interval",
        "configuration.event.notification.callback.url",
        "configuration.event.vendor.signature.key",
        "configuration.event.unknown",
        f"{POLLER}.contacts.pageSize",
        f"{POLLER}.contacts.url",
        f"{POLLER}.contacts.idField",
    }


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("event.notification.enabled", "true", True),
        ("event.notification.enabled", "FALSE", False),
        ("event.notification.enabled", False, False),
        ("event.vendor.type", "webhook", "webhooks"),
        ("event.vendor.type", "Polling", "polling"),
        ("event.poller.refresh_interval", 5, 5.0),
        ("event.poller.refresh_interval", "2.5", 2.5),
        ("event.poller.reconcile_interval", "60", 60.0),
        ("event.notification.retry.schedule", "4,16,64", [4.0, 16.0, 64.0]),
        ("event.notification.retry.schedule", " 1 , 2.5 ", [1.0, 2.5]),
        ("event.notification.retry.schedule", "[4, 16]", [4.0, 16.0]),
        ("event.notification.retry.schedule", [1, "3"], [1.0, 3.0]),
        ("event.notification.retry.schedule", [86400] * 20, [86400.0] * 20),
        ("event.notification.retry.schedule", "", []),
        ("event.notification.signature.key", "0123456789abcdef", "0123456789abcdef"),
        ("event.notification.instance.finder", "site.id|data.site_id", "site.id|data.site_id"),
        ("oauth.callback.url", " https://app.example.com/cb ", "https://app.example.com/cb"),
        ("provider.own.setting", {"any": ["thing"]}, {"any": ["thing"]}),
    ],
)
def test_values_take_their_canonical_form(key: str, value: object, expected: object) -> None:
    element = Element(event_methods=frozenset({"polling", "webhooks"}))
    raw: dict[str, object] = {key: value}
    if key == "event.notification.enabled":
        raw = docs(**raw)
    assert normalize(raw, element=element)[key] == expected


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        ("oauth.api.key", "", "non-empty"),
        ("oauth.api.secret", 42, "non-empty"),
        ("oauth.callback.url", "/relative", "absolute"),
        ("event.notification.enabled", "yes", "true or false"),
        ("event.notification.enabled", 1, "true or false"),
        ("event.vendor.type", "push", "'polling' or 'webhooks'"),
        ("event.notification.callback.url", "https://", "no host"),
        ("event.notification.callback.url", "https://a.example:99999/", "port"),
        ("event.notification.callback.url", "https://a example.com/", "spaces"),
        ("event.notification.signature.key", "x" * 15, "at least 16"),
        ("event.vendor.signature.key", 1234567890123456789, "string"),
        ("event.poller.refresh_interval", 0, "greater than 0"),
        ("event.poller.refresh_interval", -3, "greater than 0"),
        ("event.poller.refresh_interval", True, "number"),
        ("event.poller.refresh_interval", "nan", "finite"),
        ("event.poller.refresh_interval", [15], "number"),
        ("event.poller.reconcile_interval", "0", "greater than 0"),
        ("event.notification.instance.finder", "site.id", "configKey|bodyPath"),
        ("event.notification.instance.finder", "a|b|c", "configKey|bodyPath"),
        ("event.notification.instance.finder", "a|b..c", "empty segment"),
        ("event.notification.retry.schedule", "4,x", "number"),
        ("event.notification.retry.schedule", [4, -1], "from 1 to 86400 seconds"),
        ("event.notification.retry.schedule", 4, "list"),
        ("event.poller.configuration", "[]", "object"),
        ("event.poller.configuration", 7, "object"),
    ],
)
def test_bad_values_are_named(key: str, value: object, words: str) -> None:
    problems = problems_of({key: value})
    assert words in problems[PREFIX + key]


# Every numeric key of a configuration, as a function of the value to put there.
NUMERIC_KEYS = {
    "event.poller.refresh_interval": lambda v: docs(**{"event.poller.refresh_interval": v}),
    "event.poller.reconcile_interval": lambda v: docs(**{"event.poller.reconcile_interval": v}),
    "event.notification.retry.schedule": lambda v: docs(
        **{"event.notification.retry.schedule": [4, v]}
    ),
    "event.poller.configuration.contacts.createdCheckTolerance": lambda v: with_contacts(
        createdCheckTolerance=v
    ),
    "event.poller.configuration.contacts.pageSize": lambda v: with_contacts(pageSize=v),
    "event.poller.configuration.contacts.pollDelay": lambda v: with_contacts(pollDelay=v),
    "event.poller.configuration.contacts.backfillFrom": lambda v: with_contacts(backfillFrom=v),
}
HUGE = [10**400, -(10**400), 1e308, -1e308, "9" * 400, "1e308", 10**5000]


@pytest.mark.parametrize("key", sorted(NUMERIC_KEYS))
@pytest.mark.parametrize(
    "value", HUGE, ids=["10**400", "-10**400", "1e308", "-1e308", "'9'*400", "'1e308'", "10**5000"]
)
def test_a_huge_number_in_any_numeric_key_is_refused_naming_the_key(
    key: str, value: object
) -> None:
    problems = problems_of(NUMERIC_KEYS[key](value))
    assert list(problems) == [PREFIX + key], problems
    assert "not " in problems[PREFIX + key]


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        ("event.poller.refresh_interval", 44640.01, "at most 44640 (31 days)"),
        ("event.poller.refresh_interval", "50000", "at most 44640 (31 days)"),
        ("event.poller.reconcile_interval", 44641, "at most 44640 (31 days)"),
        ("event.notification.retry.schedule", [4] * 21, "has 21 delays; at most 20"),
        ("event.notification.retry.schedule", [4, 0.5], "from 1 to 86400 seconds"),
        ("event.notification.retry.schedule", "4,90000", "from 1 to 86400 seconds"),
        ("event.notification.retry.schedule", [25 * 3600], "not 90000"),
    ],
)
def test_intervals_and_schedules_have_upper_bounds(key: str, value: object, words: str) -> None:
    problems = problems_of(docs(**{key: value}))
    assert words in problems[PREFIX + key], problems


def test_the_longest_intervals_are_accepted() -> None:
    canonical = normalize(
        docs(**{"event.poller.refresh_interval": "44640", "event.poller.reconcile_interval": 44640})
    )
    assert canonical["event.poller.refresh_interval"] == 44640.0
    assert canonical["event.poller.reconcile_interval"] == 44640.0


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"pollDelay": 31 * 86400 + 1}, "pollDelay", "from 0 to 2678400 (31 days)"),
        ({"createdCheckTolerance": "3e6"}, "createdCheckTolerance", "(31 days)"),
        ({"backfillFrom": -1}, "backfillFrom", "from 1970-01-01"),
        ({"backfillFrom": "0001-01-01T00:00:00Z"}, "backfillFrom", "from 1970-01-01"),
        ({"backfillFrom": "9999-12-31T00:00:00Z"}, "backfillFrom", "before 9999-01-01"),
    ],
)
def test_resource_durations_and_backfill_are_bounded(
    changes: dict[str, object], field: str, words: str
) -> None:
    problems = problems_of(with_contacts(**changes))
    assert words in problems[f"{POLLER}.contacts.{field}"], problems


def test_a_refresh_interval_below_the_server_minimum_states_the_minimum() -> None:
    problems = problems_of(docs(**{"event.poller.refresh_interval": "0.5"}))
    assert problems["configuration.event.poller.refresh_interval"] == (
        "must be at least 1 minute (60 seconds, this server's minimum)"
    )
    problems = problems_of(docs(**{"event.poller.refresh_interval": 0.05}), min_refresh_seconds=6)
    assert problems["configuration.event.poller.refresh_interval"] == (
        "must be at least 0.1 minutes (6 seconds, this server's minimum)"
    )
    canonical = normalize(docs(**{"event.poller.refresh_interval": "0.1"}), min_refresh_seconds=6)
    assert canonical["event.poller.refresh_interval"] == pytest.approx(0.1)


def test_the_poller_configuration_may_be_a_json_string() -> None:
    as_text = json.dumps(DOCS["event.poller.configuration"])
    canonical = normalize(docs(**{"event.poller.configuration": as_text}))
    assert canonical["event.poller.configuration"] == DOCS["event.poller.configuration"]


def test_malformed_poller_json_names_line_and_column() -> None:
    problems = problems_of(docs(**{"event.poller.configuration": '{"contacts": {\n  "url" "x"}}'}))
    assert "line 2 column 9" in problems[POLLER]


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"url": "/crm/contacts"}, "url", "/hubs/"),
        ({"url": 5}, "url", "/hubs/"),
        ({"url": "/hubs/x?since=${epoch:m}"}, "url", "unknown epoch unit 'm'"),
        ({"url": "/hubs/x?since=${nope}"}, "url", "unknown URL variable '${nope}'"),
        ({"url": "/hubs/x?d=${gmtDate:yyyy-MM-ddTHH}"}, "url", "invalid pattern letter 'T'"),
        ({"url": "/hubs/x/{list"}, "url", "brace"),
        ({"idField": ""}, "idField", "non-empty"),
        ({"idField": "a..b"}, "idField", "empty segment"),
        ({"filterByUpdatedDate": "maybe"}, "filterByUpdatedDate", "true or false"),
        ({"filterByCurrentDate": 1}, "filterByCurrentDate", "true or false"),
        ({"createdCheckTolerance": -1}, "createdCheckTolerance", "from 0 to 2678400"),
        ({"pollDelay": "soon"}, "pollDelay", "number"),
        ({"pageSize": 0}, "pageSize", "1 to 1000"),
        ({"pageSize": 1001}, "pageSize", "1 to 1000"),
        ({"pageSize": 2.5}, "pageSize", "whole number"),
        ({"backfillFrom": "last tuesday"}, "backfillFrom", "ISO-8601"),
        ({"backfillFrom": True}, "backfillFrom", "ISO-8601"),
        ({"pollInterval": 3}, "pollInterval", "unknown resource option 'pollInterval'"),
        ({"datesConfiguration": "ms"}, "datesConfiguration", "object"),
        (
            {"datesConfiguration": {"updatedDateFormat": "YYYY-MM-dd"}},
            "datesConfiguration.updatedDateFormat",
            "week year",
        ),
        (
            {"datesConfiguration": {"createdDateTimezone": "Mars/Olympus"}},
            "datesConfiguration.createdDateTimezone",
            "unknown time zone 'Mars/Olympus'",
        ),
        (
            {"datesConfiguration": {"createdDateTimezone": "America"}},
            "datesConfiguration.createdDateTimezone",
            "unknown time zone 'America'",
        ),
        (
            {"datesConfiguration": {"updatedDateFormat": "yyyy-MM-dd'T'HH:mm:ssXXXX"}},
            "datesConfiguration.updatedDateFormat",
            "X is written X, XX or XXX",
        ),
        (
            {"url": "/hubs/x?d=${dateTimeZone:America:yyyy-MM-dd}"},
            "url",
            "unknown time zone 'America'",
        ),
        ({"url": "/hubs/x?d=${gmtDate:yyyy-MM-ddXXXX}"}, "url", "X is written X, XX or XXX"),
        (
            {"datesConfiguration": {"updatedDateZone": "UTC"}},
            "datesConfiguration.updatedDateZone",
            "unknown date option",
        ),
        (
            {"datesConfiguration": {"updatedDateField": "a."}},
            "datesConfiguration.updatedDateField",
            "empty segment",
        ),
    ],
)
def test_resource_problems_name_the_resource_field(
    changes: dict[str, object], field: str, words: str
) -> None:
    problems = problems_of(with_contacts(**changes))
    assert words in problems[f"{POLLER}.contacts.{field}"], problems


def test_a_resource_that_is_not_an_object_is_refused() -> None:
    problems = problems_of(docs(**{"event.poller.configuration": {"contacts": "all of them"}}))
    assert "url" in problems[f"{POLLER}.contacts"]
    assert POLLER not in problems  # not also reported as "no resource"


def test_resource_options_are_canonical_and_reach_the_resource() -> None:
    raw = with_contacts(
        filterByUpdatedDate="false",
        filterByCurrentDate="true",
        createdCheckTolerance="2.5",
        pollDelay=30,
        pageSize="500",
        backfillFrom="2026-01-01T00:00:00Z",
        datesConfiguration={
            "updatedDateField": "meta.updated",
            "updatedDateFormat": "yyyy-MM-dd HH:mm:ss",
            "updatedDateTimezone": "America/New_York",
            "createdDateField": "meta.created",
            "createdDateFormat": "ISO8601",
            "createdDateTimezone": "PST",
        },
    )
    canonical = normalize(raw)
    spec = canonical["event.poller.configuration"]["contacts"]  # type: ignore[index]
    assert spec["filterByUpdatedDate"] is False
    assert spec["createdCheckTolerance"] == 2.5
    assert spec["pageSize"] == 500
    resource = resources.read(canonical)["contacts"]
    assert resource.filter_by_updated_date is False
    assert resource.filter_by_current_date is True
    assert resource.created_check_tolerance == 2.5
    assert resource.poll_delay == 30.0
    assert resource.page_size == 500
    assert resource.backfill_from_ms == 1767225600000
    assert resource.updated_field == "meta.updated"
    assert resource.updated_tz == "America/New_York"
    assert resource.created_format == "ISO8601"
    assert resource.created_tz == "PST"


@pytest.mark.parametrize(
    ("backfill", "ms"),
    [
        (1767225600000, 1767225600000),
        ("1767225600000", 1767225600000),
        ("2026-01-01", 1767225600000),
    ],
)
def test_backfill_from_accepts_iso_and_epoch_milliseconds(backfill: object, ms: int) -> None:
    canonical = normalize(with_contacts(backfillFrom=backfill))
    assert resources.read(canonical)["contacts"].backfill_from_ms == ms


def test_the_misspelling_of_cloud_elements_docs_is_understood() -> None:
    canonical = normalize(with_contacts(filterByUpdateDate=False))
    assert resources.read(canonical)["contacts"].filter_by_updated_date is False


def test_several_resources_each_become_a_resource() -> None:
    raw = docs()
    raw["event.poller.configuration"] = {
        "contacts": DOCS["event.poller.configuration"]["contacts"],  # type: ignore[index]
        "lists": {"url": "/hubs/marketing/lists", "idField": "id"},
    }
    found = resources.read(normalize(raw))
    assert sorted(found) == ["contacts", "lists"]
    assert found["lists"].updated_field is None
    assert found["lists"].url == "/hubs/marketing/lists"


def test_resources_of_a_configuration_without_pollers_is_empty() -> None:
    assert resources.read(normalize({})) == {}


def test_fingerprint_follows_what_defines_the_query() -> None:
    base = resources.read(normalize(docs()))["contacts"]
    assert base.fingerprint() == resources.read(normalize(docs()))["contacts"].fingerprint()
    same_query = [
        dataclasses.replace(base, page_size=10),
        dataclasses.replace(base, poll_delay=5.0),
        dataclasses.replace(base, created_check_tolerance=1.0),
        dataclasses.replace(base, name="other"),
    ]
    for resource in same_query:
        assert resource.fingerprint() == base.fingerprint()
    new_query = [
        dataclasses.replace(base, url="/hubs/marketing/lists/l-1/contacts"),
        dataclasses.replace(base, id_field="id"),
        dataclasses.replace(base, updated_field="x"),
        dataclasses.replace(base, updated_format="seconds"),
        dataclasses.replace(base, updated_tz="UTC"),
        dataclasses.replace(base, created_field=None),
        dataclasses.replace(base, filter_by_updated_date=False),
        dataclasses.replace(base, filter_by_current_date=True),
    ]
    fingerprints = {resource.fingerprint() for resource in new_query}
    assert base.fingerprint() not in fingerprints
    assert len(fingerprints) == len(new_query)


def test_enabled_notifications_need_a_callback_url() -> None:
    raw = docs()
    del raw["event.notification.callback.url"]
    problems = problems_of(raw)
    assert "required" in problems["configuration.event.notification.callback.url"]


@pytest.mark.parametrize("pollers", [None, {}, "{}"])
def test_enabled_polling_needs_a_resource(pollers: object) -> None:
    problems = problems_of(docs(**{"event.poller.configuration": pollers}))
    assert "at least one resource" in problems[POLLER]


def test_disabled_notifications_need_neither_callback_nor_resources() -> None:
    canonical = normalize({"event.notification.enabled": "false", "event.vendor.type": "polling"})
    assert canonical == {"event.notification.enabled": False, "event.vendor.type": "polling"}


def test_defaults_when_notifications_are_enabled() -> None:
    raw = docs()
    del raw["event.vendor.type"], raw["event.poller.refresh_interval"]
    canonical = normalize(raw)
    assert canonical["event.vendor.type"] == "polling"
    assert canonical["event.poller.refresh_interval"] == config.DEFAULT_REFRESH_MINUTES
    assert normalize(raw, min_refresh_seconds=3600)["event.poller.refresh_interval"] == 60.0
    assert normalize({})["event.notification.enabled"] is False


def test_webhooks_need_no_poller_configuration() -> None:
    element = Element(event_methods=frozenset({"polling", "webhook"}))
    raw = docs(**{"event.vendor.type": "webhook", "event.poller.configuration": None})
    canonical = normalize(raw, element=element)
    assert canonical["event.vendor.type"] == "webhooks"
    assert "event.poller.configuration" not in canonical


def test_null_values_count_as_absent() -> None:
    canonical = normalize({"oauth.api.key": "k", "event.vendor.signature.key": None})
    assert "event.vendor.signature.key" not in canonical


def test_unknown_keys_outside_events_are_kept_as_given() -> None:
    canonical = normalize({"acton.custom": "x", "oauth.scope": ["a"]})
    assert canonical["acton.custom"] == "x"
    assert canonical["oauth.scope"] == ["a"]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9000/events",
        "http://localhost/events",
        "http://api.localhost/events",
        "http://[::1]/events",
        "http://10.0.0.8/events",
        "http://192.168.1.1/events",
        "http://169.254.169.254/latest",
        "http://2130706433/",
        "http://[::ffff:127.0.0.1]/",
    ],
)
def test_private_callbacks_are_refused_unless_allowed(url: str) -> None:
    raw = docs(**{"event.notification.callback.url": url})
    problems = problems_of(raw)
    assert "private" in problems["configuration.event.notification.callback.url"]
    assert normalize(raw, allow_private_callbacks=True)["event.notification.callback.url"] == url


def test_a_private_callback_is_refused_even_with_notifications_disabled() -> None:
    raw: dict[str, object] = {"event.notification.callback.url": "http://127.0.0.1/"}
    assert "private" in problems_of(raw)["configuration.event.notification.callback.url"]


def test_field_names_follow_the_prefix() -> None:
    problems = problems_of({"event.poller.refresh_interval": "abc"}, prefix="")
    assert list(problems) == ["event.poller.refresh_interval"]
    problems = problems_of({"event.nope": 1}, prefix="body.configuration")
    assert list(problems) == ["body.configuration.event.nope"]


def test_the_error_message_lists_the_problems() -> None:
    with pytest.raises(InputError) as caught:
        normalize({"event.poller.refresh_interval": "abc"})
    assert "configuration.event.poller.refresh_interval" in caught.value.message
    assert caught.value.status == 400


def test_secret_keys() -> None:
    expected = {
        "oauth.api.secret",
        "event.notification.signature.key",
        "event.vendor.signature.key",
    }
    assert expected == config.SECRET_KEYS
