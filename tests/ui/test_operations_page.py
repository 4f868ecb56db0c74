"""The operations page and an instance's signature-key rotation in the browser: the operations
URL set (its generated key shown once, then only "set"), refused with its error next to the
field, and removed; a signature key rotated with an overlap the instance page then shows."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest

from headwater.domain import signing
from tests.ui import browsing
from tests.ui.conftest import Tenant, UiServer

pytestmark = pytest.mark.acton_sandbox(lists=1, contacts=1)


def _instance(ui: UiServer, tenant: Tenant) -> dict[str, Any]:
    created: dict[str, Any] = ui.run(
        ui.running.create_instance(
            {"event.notification.callback.url": ui.receiver.url},
            auth=tenant.header,
            name="Keys",
        )
    )
    return created


def _operations_key(ui: UiServer, instance_id: int) -> str | None:
    """The key operations notices about the instance are signed with now (None: no URL)."""
    found = ui.run(ui.running.container.operations.target(instance_id))
    return None if found is None else found.key


def _problem(page: Any, field_id: str) -> str:
    """The problem shown right after the field, which names it as its description."""
    field = page.locator(f"#{field_id}")
    assert field.get_attribute("aria-invalid") == "true", field_id
    assert f"{field_id}-problem" in field.get_attribute("aria-describedby").split()
    assert page.locator(f"#{field_id} ~ #{field_id}-problem").count() == 1
    text: str = page.locator(f"#{field_id}-problem").inner_text()
    return text


def test_set_the_operations_url_its_key_shown_once_then_remove_it(page: Any, ui: UiServer) -> None:
    tenant = ui.tenant()
    instance_id = int(_instance(ui, tenant)["id"])
    browsing.sign_in(page, ui, tenant)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Operations").click()
    page.wait_for_url(ui.root + "/operations")
    assert page.locator("#ops-none").is_visible()
    browsing.check_accessibility(page, "operations, none set")

    page.get_by_label("Operations URL").fill("ftp://ops.example.com/x")
    page.get_by_label("Signature key (optional)").fill("too short")
    page.get_by_role("button", name="Save").click()
    assert "http" in _problem(page, "ops-url")
    assert "16 characters" in _problem(page, "ops-key")
    assert page.get_by_label("Operations URL").input_value() == "ftp://ops.example.com/x"
    assert page.get_by_label("Signature key (optional)").input_value() == "too short"
    assert _operations_key(ui, instance_id) is None, "nothing saved"
    browsing.check_accessibility(page, "operations form with errors")
    browsing.screenshot(page, "operations-errors")

    url = ui.receiver.url + "/ops"
    page.get_by_label("Operations URL").fill(url)
    page.get_by_label("Signature key (optional)").fill("")
    page.get_by_role("button", name="Save").click()
    shown = page.locator("#ops-signature-key").inner_text()
    assert shown.startswith(signing.KEY_PREFIX)
    assert "will not be shown again" in page.locator("#new-key").inner_text()
    assert shown == _operations_key(ui, instance_id), "the key shown signs the notices"
    assert page.locator("#ops-current-url").inner_text() == url
    assert page.locator("#ops-key-state").inner_text().startswith("set")
    browsing.check_accessibility(page, "operations, key shown once")
    browsing.screenshot(page, "operations-key-shown-once")

    page.reload()
    assert page.locator("#ops-signature-key").count() == 0, "the key is shown once"
    assert shown not in page.content()
    assert page.locator("#ops-key-state").inner_text().startswith("set")
    # a new URL without a key keeps the key, and shows none
    page.get_by_label("Operations URL").fill(url + "/v2")
    page.get_by_role("button", name="Save").click()
    assert page.locator("#ops-current-url").inner_text() == url + "/v2"
    assert page.locator("#ops-signature-key").count() == 0
    assert _operations_key(ui, instance_id) == shown
    reply = ui.run(ui.running.call("GET", "notifications/operations", auth=tenant.header))
    assert reply.json["url"] == url + "/v2" and reply.json["signatureKeySet"] is True

    page.get_by_role("button", name="Remove the operations URL").click()
    assert "stopped" in page.get_by_role("status").inner_text()
    assert page.locator("#ops-none").is_visible()
    assert _operations_key(ui, instance_id) is None
    page.set_viewport_size({"width": 390, "height": 844})
    browsing.check_accessibility(page, "operations on a phone")
    browsing.screenshot(page, "operations-phone")
    # a form without the session's CSRF token changes nothing
    answer = page.request.post(ui.root + "/operations", form={"url": url, "csrf": "forged"})
    assert answer.status == 403
    assert _operations_key(ui, instance_id) is None


def test_rotate_an_instance_signature_key_and_see_the_overlap(page: Any, ui: UiServer) -> None:
    tenant = ui.tenant()
    created = _instance(ui, tenant)
    instance_id = int(created["id"])
    old_key = created["configuration"]["event.notification.signature.key"]
    browsing.sign_in(page, ui, tenant)
    page.goto(f"{ui.root}/instances/{instance_id}")
    state = page.locator("#signature-key-state")
    assert signing.fingerprint(old_key) in state.inner_text()
    assert page.locator("#elements-key").inner_text() == "current key"

    page.get_by_label("Overlap (hours, optional)").fill("forever")
    page.get_by_role("button", name="Rotate signature key").click()
    assert "number of hours" in _problem(page, "rotate-overlap")
    assert page.get_by_label("Overlap (hours, optional)").input_value() == "forever"
    browsing.check_accessibility(page, "rotation with an error")

    before = dt.datetime.now(dt.UTC)
    page.get_by_label("Overlap (hours, optional)").fill("2")
    page.get_by_role("button", name="Rotate signature key").click()
    page.wait_for_url(re.compile(rf"/instances/{instance_id}#signature-key$"))
    new_key = page.locator("#signature-key").inner_text()
    assert new_key.startswith(signing.KEY_PREFIX) and new_key != old_key
    assert "New signature key (shown once)" in page.get_by_role("status").first.inner_text()
    text = state.inner_text()
    assert signing.fingerprint(new_key) in text
    assert signing.fingerprint(old_key) in text
    ends = dt.datetime.strptime(
        page.locator("#overlap-ends").inner_text(), "%Y-%m-%d %H:%M:%S UTC"
    ).replace(tzinfo=dt.UTC)
    expected = before + dt.timedelta(hours=2)
    assert abs((ends - expected).total_seconds()) < 60
    assert page.locator("#elements-key").inner_text().startswith("previous key until")
    reply = ui.run(ui.running.call("GET", f"instances/{instance_id}", auth=tenant.header))
    shown = reply.json["signatureKey"]
    assert shown["fingerprint"] == signing.fingerprint(new_key)
    assert shown["elementsSignatureKey"] == "previous"
    browsing.check_accessibility(page, "instance, key rotated")
    browsing.screenshot(page, "instance-key-rotated")

    page.reload()
    assert page.locator("#signature-key").count() == 0, "the new key is shown once"
    assert new_key not in page.content()
    # a second rotation during the overlap is refused, next to its button
    page.get_by_role("button", name="Rotate signature key").click()
    assert "rotating its signature key already" in _problem_of_button(page)
    assert signing.fingerprint(new_key) in page.locator("#signature-key-state").inner_text()


def _problem_of_button(page: Any) -> str:
    button = page.get_by_role("button", name="Rotate signature key")
    assert button.get_attribute("aria-describedby") == "rotate-problem"
    text: str = page.locator("#rotate-problem").inner_text()
    return text
