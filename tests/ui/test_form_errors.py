"""The create form: each problem next to its field, nothing typed lost, a resource copied."""

from __future__ import annotations

from typing import Any

import pytest

from tests.ui import browsing
from tests.ui.conftest import UiServer

pytestmark = pytest.mark.acton_sandbox(lists=1, contacts=1)


def _problem(page: Any, field_id: str) -> str:
    field = page.locator(f"#{field_id}")
    assert field.get_attribute("aria-invalid") == "true", field_id
    notes = field.get_attribute("aria-describedby").split()
    (described,) = [note for note in notes if note.endswith("-problem")]
    text: str = page.locator(f"#{described}").inner_text()
    # the problem is shown right after its field, in the same block
    assert page.locator(f"#{field_id} ~ #{described}").count() == 1
    return text


def test_form_errors_show_next_to_their_fields_and_keep_what_was_typed(
    page: Any, ui: UiServer
) -> None:
    browsing.sign_in(page, ui, ui.tenant())
    page.goto(ui.root + "/instances/new?element=acton")
    page.get_by_label("Name", exact=True).fill("Typed name")
    page.get_by_label("OAuth secret (client secret)").fill("typed-secret")
    page.get_by_label("Refresh interval (minutes)").fill("every so often")
    page.get_by_label("Callback URL for notifications").fill("not a url")
    config = page.get_by_label("Configuration of contacts")
    typed_config = config.input_value().replace('"idField"', '"idFeld"')
    config.fill(typed_config)
    page.get_by_role("button", name="Create Instance").click()

    assert "required" in _problem(page, "oauth-api-key")
    assert _problem(page, "event-poller-refresh_interval")
    assert _problem(page, "event-notification-callback-url")
    assert "idF" in _problem(page, "resource-0-config")
    assert "authorize" not in page.url
    assert page.get_by_label("Name", exact=True).input_value() == "Typed name"
    assert page.get_by_label("OAuth secret (client secret)").input_value() == "typed-secret"
    assert page.get_by_label("Refresh interval (minutes)").input_value() == "every so often"
    assert config.input_value() == typed_config
    browsing.check_accessibility(page, "create form with errors")
    browsing.screenshot(page, "create-form-errors")

    config.fill("{ not json")
    page.get_by_role("button", name="Create Instance").click()
    assert "not valid JSON" in _problem(page, "resource-0-config")
    assert page.get_by_label("Configuration of contacts").input_value() == "{ not json"


def test_copy_a_resource_configuration_to_poll_another(page: Any, ui: UiServer) -> None:
    browsing.sign_in(page, ui, ui.tenant())
    page.goto(ui.root + "/instances/new?element=acton")
    page.get_by_label("Name", exact=True).fill("Two resources")
    original = page.get_by_label("Configuration of contacts").input_value()
    page.get_by_role("button", name="Copy this configuration to poll another resource").click()
    assert page.get_by_label("Name", exact=True).input_value() == "Two resources"
    assert page.locator("#resource-1-config").input_value() == original
    assert page.locator("#resource-1-name").input_value() == ""
    assert page.locator("#resource-1-poll").is_checked()
    page.get_by_label("OAuth key (client id)").fill(ui.sandbox.client_id)
    page.get_by_label("OAuth secret (client secret)").fill(ui.sandbox.client_secret)
    page.get_by_role("button", name="Create Instance").click()
    assert "required" in _problem(page, "resource-1-name")
    page.locator("#resource-1-name").fill("contacts")
    page.get_by_role("button", name="Create Instance").click()
    assert "already polled" in _problem(page, "resource-1-name")
    browsing.check_accessibility(page, "create form, two resources")


def test_every_element_gets_its_own_form(page: Any, ui: UiServer) -> None:
    browsing.sign_in(page, ui, ui.tenant())
    for element in ui.running.container.registry.all():
        page.goto(ui.root + "/instances/new")
        page.get_by_role("link", name=element.name, exact=True).click()
        page.wait_for_url(f"**/instances/new?element={element.key}")  # and for the page to load
        offered = page.locator("input[name='event.vendor.type']")
        values = {offered.nth(i).get_attribute("value") for i in range(offered.count())}
        assert values == set(element.event_methods), element.key
        defaults = element.poller_defaults()
        names = [page.locator(f"#resource-{i}-name").input_value() for i in range(len(defaults))]
        assert names == list(defaults), element.key
        browsing.check_accessibility(page, f"create form of {element.key}")
    reply = page.goto(ui.root + "/instances/new?element=nothing-like-it")
    assert reply is not None and reply.status == 404
