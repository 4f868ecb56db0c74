"""An instance's page: a failing delivery queued, released and delivered; a test notification;
a replay; pollers acted on; and another organization's instance out of reach."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest

from tests.ui import browsing
from tests.ui.conftest import Tenant, UiServer

pytestmark = pytest.mark.acton_sandbox(lists=1, contacts=2)


def _instance(ui: UiServer, tenant: Tenant, name: str = "Deliveries") -> int:
    created = ui.run(
        ui.running.create_instance(
            {
                "event.notification.callback.url": ui.receiver.url,
                "event.poller.refresh_interval": "0.05",
            },
            auth=tenant.header,
            name=name,
        )
    )
    return int(created["id"])


def test_a_failing_delivery_is_queued_then_released_and_delivered(page: Any, ui: UiServer) -> None:
    tenant = ui.tenant()
    ui.receiver.set_failures("500")
    instance_id = _instance(ui, tenant)
    ui.sandbox.admin("PATCH", "/contacts/l-0001:0", {"values": {"First Name": "Grace"}})
    browsing.sign_in(page, ui, tenant)
    page.goto(f"{ui.root}/instances/{instance_id}")
    deliveries = "[data-live='deliveries']"
    browsing.reload_until(page, r"queued", deliveries)
    # the live section may show it before the rest of the page does: a fresh page shows both
    page.reload()
    assert "subscription deactivated" in page.locator("main").inner_text()
    assert "queued" in page.locator(deliveries).inner_text()
    page.locator(f"{deliveries} summary").first.click()
    assert page.locator(f"{deliveries} .attempts li").filter(has_text="500").count() == 3
    browsing.check_accessibility(page, "instance with a queued delivery")
    browsing.screenshot(page, "instance-queued")
    page.goto(ui.root + "/")
    row = page.get_by_role("row").filter(has_text="Deliveries")
    assert "subscription deactivated" in row.inner_text()
    assert re.search(r"[1-9]\d* failed delivery attempt", page.locator("main").inner_text())

    ui.receiver.set_failures("ok")
    page.goto(f"{ui.root}/instances/{instance_id}")
    page.get_by_role("button", name="Release queued").click()
    assert "Released 1 queued notification(s)" in page.get_by_role("status").inner_text()
    browsing.reload_until(page, r"delivered", deliveries)
    assert "subscription deactivated" not in page.locator("main").inner_text()
    assert any(a["status"] == 200 for a in ui.receiver.arrivals)

    page.get_by_role("button", name="Send a test notification").click()
    assert "Test notification sent: delivered." in page.get_by_role("status").inner_text()
    assert page.locator(f"{deliveries} tr").filter(has_text="test").count() == 1

    since = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    page.get_by_label("From (UTC)", exact=True).last.fill(since)
    page.get_by_role("button", name="Replay").click()
    assert "required" in page.locator("#replay-to-problem").inner_text()
    assert page.locator("#replay-from").input_value() == since
    browsing.check_accessibility(page, "instance with a replay error")
    until = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M")
    page.locator("#replay-to").fill(until)
    page.get_by_role("button", name="Replay").click()
    assert "Replaying 1 event(s)" in page.get_by_role("status").inner_text()
    browsing.reload_until(page, r"replay", deliveries)


def test_pollers_are_paused_resumed_and_run_from_the_page(page: Any, ui: UiServer) -> None:
    tenant = ui.tenant()
    instance_id = _instance(ui, tenant, "Pollers")
    browsing.sign_in(page, ui, tenant)
    page.goto(f"{ui.root}/instances/{instance_id}")
    poller = page.locator("#poller-contacts")
    poller.get_by_role("button", name="Pause").click()
    assert "Poller contacts paused." in page.get_by_role("status").inner_text()
    assert "paused" in page.locator("#poller-contacts").inner_text()
    page.locator("#poller-contacts").get_by_role("button", name="Resume").click()
    assert "resumed" in page.get_by_role("status").inner_text()
    page.locator("#poller-contacts").get_by_role("button", name="Check for deletes").click()
    assert "check for deleted records" in page.get_by_role("status").inner_text()
    page.locator("#poller-contacts").get_by_role("button", name="Poll now").click()
    assert "will poll now" in page.get_by_role("status").inner_text()


def test_another_organizations_instance_is_not_found(page: Any, ui: UiServer) -> None:
    owner = ui.tenant("Owner")
    instance_id = _instance(ui, owner, "Not yours")
    ui.sandbox.admin("PATCH", "/contacts/l-0001:1", {"values": {"First Name": "Linus"}})
    browsing.eventually(lambda: len(ui.receiver.arrivals) > 0, "the owner's notification")
    other = ui.tenant("Other")
    browsing.sign_in(page, ui, other)
    assert "Not yours" not in page.locator("main").inner_text()
    for path in (f"/instances/{instance_id}", f"/instances/{instance_id}/events/1"):
        reply = page.goto(ui.root + path)
        assert reply.status == 404, path
        assert page.get_by_role("heading", name="Not found").is_visible()
        assert "Not yours" not in page.content()
    browsing.check_accessibility(page, "not found")
    browsing.screenshot(page, "not-found")
    csrf = page.locator("input[name='csrf']").first.get_attribute("value")
    for action in (
        "deliveries/release",
        "test-notification",
        "pollers/contacts/run",
        "signature-key/rotate",
    ):
        answer = page.request.post(
            f"{ui.root}/instances/{instance_id}/{action}", form={"csrf": csrf}
        )
        assert answer.status == 404, action
    # and a form without the session's CSRF token is refused before anything else
    page.context.clear_cookies()
    browsing.sign_in(page, ui, owner)
    answer = page.request.post(
        f"{ui.root}/instances/{instance_id}/test-notification", form={"csrf": "forged"}
    )
    assert answer.status == 403
