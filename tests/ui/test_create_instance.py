"""Creating an Act-On instance with polling in the browser, through the sandbox's authorize page,
then watching it poll and find a changed contact."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.ui import browsing
from tests.ui.conftest import UiServer

pytestmark = pytest.mark.acton_sandbox(lists=1, contacts=3)


def test_create_an_acton_instance_with_polling_and_see_its_events(page: Any, ui: UiServer) -> None:
    tenant = ui.tenant()
    browsing.sign_in(page, ui, tenant)
    page.get_by_role("link", name="Create instance").first.click()
    browsing.check_accessibility(page, "choose element")
    page.get_by_role("link", name="Act-On").click()
    page.wait_for_url("**/instances/new?element=acton")  # and for the page to load
    assert page.get_by_label("OAuth callback URL").input_value() == ui.root + "/oauth/callback"
    assert ui.root + "/oauth/callback" in page.locator("main form").inner_text()
    # only the element's event methods are offered; the default resources are pre-filled
    methods = page.locator("input[name='event.vendor.type']")
    assert methods.count() == len(ui.running.container.registry.get("acton").event_methods)
    config = page.get_by_label("Configuration of contacts").input_value()
    assert "_contact_id_" in config and "modafter" in config
    page.get_by_label("Name", exact=True).fill("Act-On in the browser")
    page.get_by_label("OAuth key (client id)").fill(ui.sandbox.client_id)
    page.get_by_label("OAuth secret (client secret)").fill(ui.sandbox.client_secret)
    page.get_by_label("Polling").check()
    page.get_by_label("Refresh interval (minutes)").fill("0.05")
    page.get_by_label("Callback URL for notifications").fill(ui.receiver.url)
    browsing.check_accessibility(page, "create form")
    browsing.screenshot(page, "create-form")

    page.get_by_role("button", name="Create Instance").click()
    page.wait_for_url(re.compile(re.escape(ui.sandbox.url) + "/authorize"))
    page.get_by_role("button", name="Approve").click()
    page.wait_for_url(re.compile(re.escape(ui.root) + r"/instances/\d+$"))
    instance_id = int(page.url.rsplit("/", 1)[1])
    key = page.locator("#signature-key").inner_text()
    assert key.startswith("whsec_")
    browsing.check_accessibility(page, "instance, just created")
    page.reload()
    assert page.locator("#signature-key").count() == 0, "the key is shown once"

    # the first poll shows on the page by itself (live updates), its cursor set
    poller = page.locator("#poller-contacts")
    poller.locator("[data-cell='last-run']").filter(has_text="UTC").wait_for(timeout=20_000)
    ui.sandbox.admin("PATCH", "/contacts/l-0001:1", {"values": {"First Name": "Ada"}})
    page.locator("[data-live='events'] tbody tr").filter(has_text="l-0001:1").first.wait_for(
        timeout=20_000
    )
    events = page.locator("[data-live='events']").inner_text()
    assert "UPDATED" in events and "contacts" in events
    browsing.eventually(
        lambda: any(a["status"] == 200 for a in ui.receiver.arrivals), "a notification delivered"
    )
    browsing.reload_until(page, r"delivered", "[data-live='deliveries']")
    browsing.check_accessibility(page, "instance with events")
    browsing.screenshot(page, "instance-with-events")

    page.get_by_role("combobox", name="Type").select_option("CREATED")
    page.get_by_role("button", name="Filter").click()
    assert "No events match these filters" in page.locator("[data-live='events']").inner_text()
    page.get_by_role("combobox", name="Type").select_option("UPDATED")
    page.get_by_label("Object id").fill("l-0001:1")
    page.get_by_role("button", name="Filter").click()
    page.locator("[data-live='events'] tbody a").first.click()
    assert page.get_by_role("heading", name=re.compile("UPDATED contacts")).is_visible()
    assert "Ada" in page.locator("pre").first.inner_text()
    browsing.reload_until(page, r"msg_[0-9a-f]{32}")
    browsing.check_accessibility(page, "event")
    browsing.screenshot(page, "event")

    page.get_by_role("link", name="Instances").click()
    row = page.get_by_role("row").filter(has_text="Act-On in the browser")
    assert "polling" in row.inner_text()
    assert f"/instances/{instance_id}" in row.get_by_role("link").first.get_attribute("href")
    assert re.search(r"[1-9]\d* event\(s\) found", page.locator("main").inner_text())
    browsing.check_accessibility(page, "home")
    browsing.screenshot(page, "home")
    page.set_viewport_size({"width": 390, "height": 844})
    browsing.screenshot(page, "home-phone")
    page.goto(f"{ui.root}/instances/{instance_id}")
    browsing.check_accessibility(page, "instance, phone width")
    browsing.screenshot(page, "instance-phone")


def test_a_denied_or_foreign_authorization_creates_nothing_and_keeps_the_form(
    page: Any, ui: UiServer
) -> None:
    browsing.sign_in(page, ui, ui.tenant())
    page.goto(f"{ui.root}/oauth/callback?code=stolen&state=not-yours")
    assert "does not match a form of yours" in page.get_by_role("alert").inner_text()

    page.goto(ui.root + "/instances/new?element=acton")
    page.get_by_label("Name", exact=True).fill("Denied one")
    page.get_by_label("OAuth key (client id)").fill(ui.sandbox.client_id)
    page.get_by_label("OAuth secret (client secret)").fill(ui.sandbox.client_secret)
    page.get_by_label("Callback URL for notifications").fill(ui.receiver.url)
    page.get_by_role("button", name="Create Instance").click()
    page.wait_for_url(re.compile(re.escape(ui.sandbox.url) + "/authorize"))
    page.get_by_role("button", name="Deny").click()
    page.wait_for_url(re.compile(re.escape(ui.root) + "/oauth/callback"))
    assert "did not authorize" in page.get_by_role("alert").inner_text()
    assert page.get_by_label("Name", exact=True).input_value() == "Denied one"
    assert page.get_by_label("OAuth key (client id)").input_value() == ui.sandbox.client_id
    browsing.check_accessibility(page, "create form after a denial")
    page.goto(ui.root + "/")
    assert "No instances yet" in page.locator("main").inner_text()
