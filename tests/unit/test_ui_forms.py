"""The create form: read from a post, turned into a configuration, problems placed by field;
the chart's hourly buckets; an instance's health badges."""

from __future__ import annotations

import datetime as dt
import json

from headwater.elements import registry
from headwater.instances import views
from headwater.poller import control
from headwater.ui import chart, health
from headwater.ui import instance_form as forms

ACTON = registry.build().get("acton")


def _post(**fields: str) -> dict[str, list[str]]:
    return {name.replace("_", "."): [value] for name, value in fields.items()}


def test_the_initial_form_offers_the_elements_defaults() -> None:
    form = forms.InstanceForm.initial(ACTON, "http://h/oauth/callback")
    assert form.values["oauth.callback.url"] == "http://h/oauth/callback"
    assert form.values["event.vendor.type"] == "polling"
    assert [row.name for row in form.resources] == list(ACTON.poller_defaults())
    assert json.loads(form.resources[0].config) == ACTON.poller_defaults()["contacts"]


def test_a_post_becomes_the_apis_configuration() -> None:
    fields = {
        "name": ["Mine"],
        "oauth.api.key": [" id "],
        "event.notification.enabled": ["true"],
        "event.vendor.type": ["polling"],
        "event.poller.refresh_interval": ["5"],
        "resource-0-name": ["contacts"],
        "resource-0-poll": ["1"],
        "resource-0-config": ['{"url": "/u", "idField": "id"}'],
        "resource-1-name": ["lists"],
        "resource-1-config": ['{"url": "/l"}'],
    }
    form = forms.InstanceForm.read("acton", fields)
    configuration = form.configuration()
    assert form.errors == {}
    assert configuration["oauth.api.key"] == "id"
    assert configuration["event.notification.enabled"] == "true"
    assert configuration["event.poller.configuration"] == {
        "contacts": {"url": "/u", "idField": "id"}
    }
    assert "event.notification.callback.url" not in configuration
    unchecked = forms.InstanceForm.read("acton", {**fields, "event.notification.enabled": []})
    assert unchecked.configuration()["event.notification.enabled"] == "false"


def test_problems_land_next_to_their_fields() -> None:
    form = forms.InstanceForm(
        "acton",
        {"name": ""},
        [forms.Resource("contacts", True, "{}"), forms.Resource("contacts.x", True, "{}")],
    )
    form.configuration()
    form.place(
        [
            ("configuration.oauth.api.key", "required"),
            ("configuration.event.poller.configuration.contacts.idField", "is required"),
            ("configuration.event.poller.configuration.contacts.x.url", "is required"),
            ("configuration.event.poller.configuration", "at least one"),
            ("configuration.event.unknown", "unknown key"),
            ("providerData.code", "required"),
        ]
    )
    assert form.errors["name"] == ["required: a name for the instance"]
    assert form.errors["oauth.api.key"] == ["required"]
    assert form.errors["resource-0-config"] == ["idField: is required"]
    assert form.errors["resource-1-config"] == ["url: is required"]
    assert form.errors["resources"] == ["at least one"]
    assert form.errors[forms.FORM][0] == "configuration.event.unknown: unknown key"
    assert "approve again" in form.errors[forms.FORM][1]


def test_a_broken_or_repeated_resource_is_the_forms_problem() -> None:
    form = forms.InstanceForm(
        "acton",
        {"name": "n", "event.vendor.type": "polling", "event.notification.enabled": "true"},
        [
            forms.Resource("a", True, "{ nope"),
            forms.Resource("b", True, "{}"),
            forms.Resource("b", True, "{}"),
            forms.Resource("", True, "{}"),
            forms.Resource("c", False, "ignored"),
        ],
    )
    assert form.configuration()["event.poller.configuration"] == {"b": {}}
    assert form.errors["resource-0-config"][0].startswith("not valid JSON")
    assert "already polled" in form.errors["resource-2-name"][0]
    assert form.errors["resource-3-name"] == ["required: the resource's name"]
    form.copy_resource(1)
    assert form.resources[-1] == forms.Resource("", True, "{}")
    assert forms.InstanceForm.load(form.dump()).resources == form.resources


def test_the_chart_counts_per_hour_of_the_last_day() -> None:
    now = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
    events = [now - dt.timedelta(minutes=m) for m in (1, 2, 61, 60 * 23 + 59, 60 * 24 + 1)]
    counts = chart.hourly(events, now)
    assert counts[-1] == 2 and counts[-2] == 1 and counts[0] == 1 and sum(counts) == 4
    naive = chart.hourly([dt.datetime(2026, 12, 1, 11, 30)], now)
    assert naive[-1] == 1
    drawn = chart.build(events, [now - dt.timedelta(minutes=5)], now)
    assert drawn.total_events == 4 and drawn.total_failures == 1 and drawn.top == 2
    assert drawn.events[-1].height == chart.HEIGHT and drawn.failures[-1].height == chart.HEIGHT / 2


def _instance(**changes: object) -> views.Instance:
    now = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    values: dict[str, object] = {
        "id": 1,
        "name": "n",
        "element_key": "acton",
        "tags": [],
        "valid": True,
        "invalid_reason": None,
        "disabled": False,
        "events_enabled": True,
        "configuration": {},
        "created_at": now,
        "updated_at": now,
    }
    values.update(changes)
    return views.Instance(**values)  # type: ignore[arg-type]


def _poller(**changes: object) -> control.PollerState:
    values: dict[str, object] = {
        "resource": "contacts",
        "enabled": True,
        "cursor": None,
        "last_run_at": None,
        "next_run_at": None,
        "last_error": None,
        "consecutive_failures": 0,
        "last_event_count": None,
        "disabled_reason": None,
        "next_reconcile_at": None,
    }
    values.update(changes)
    return control.PollerState(**values)  # type: ignore[arg-type]


def test_health_names_what_is_wrong_first() -> None:
    fine = health.of(_instance(), [_poller()], None, polling=True)
    assert [b.label for b in fine.badges] == ["polling"] and fine.queue is None
    failing = health.of(
        _instance(valid=False, invalid_reason="revoked"),
        [_poller(consecutive_failures=3, last_error="boom"), _poller(resource="x", enabled=False)],
        None,
        polling=False,
    )
    labels = [b.label for b in failing.badges]
    assert labels == ["invalid", "failing", "poller disabled"]
    assert "boom" in failing.badges[1].detail and "paused" in failing.badges[2].detail
