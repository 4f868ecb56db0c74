"""Signing in and out in the browser: secrets, a one-time link, the session cookie."""

from __future__ import annotations

from typing import Any

import pytest

from tests.ui import browsing
from tests.ui.conftest import UiServer

pytestmark = pytest.mark.acton_sandbox(lists=1, contacts=2)


def test_sign_in_with_secrets_then_sign_out(page: Any, ui: UiServer) -> None:
    tenant = ui.tenant()
    page.goto(ui.root + "/")
    assert page.url.startswith(ui.root + "/sign-in")
    browsing.check_accessibility(page, "sign-in")
    page.get_by_label("Organization secret").fill(tenant.organization_secret)
    page.get_by_label("User secret").fill("not-the-user-secret")
    page.get_by_role("button", name="Sign in").click()
    assert "The credentials are not valid" in page.get_by_role("alert").inner_text()
    # what was typed stays, but for the wrong secret
    assert page.get_by_label("Organization secret").input_value() == tenant.organization_secret
    browsing.screenshot(page, "sign-in-refused")

    browsing.sign_in(page, ui, tenant)
    assert page.get_by_role("heading", name="Instances", exact=True).is_visible()
    assert "No instances yet" in page.locator("main").inner_text()
    cookie = next(c for c in page.context.cookies() if c["name"] == "hw_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    assert tenant.user_secret not in cookie["value"]
    browsing.check_accessibility(page, "home, empty")

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(ui.root + "/sign-in")
    page.goto(ui.root + "/")
    assert page.url.startswith(ui.root + "/sign-in")


def test_a_forged_session_cookie_is_not_a_session(page: Any, ui: UiServer) -> None:
    tenant = ui.tenant()
    browsing.sign_in(page, ui, tenant)
    cookie = next(c for c in page.context.cookies() if c["name"] == "hw_session")
    body, mac = cookie["value"].split(".")
    page.context.add_cookies([{**cookie, "value": body + "." + mac[::-1]}])
    page.goto(ui.root + "/")
    assert page.url.startswith(ui.root + "/sign-in")


def test_a_sign_in_link_signs_in_once(page: Any, ui: UiServer) -> None:
    tenant = ui.tenant()
    made = ui.run(ui.running.call("POST", "/sign-in/links", auth=tenant.header))
    assert made.status == 200, made.text
    refused = ui.run(ui.running.call("POST", "/sign-in/links", auth="User x, Organization y"))
    assert refused.status == 401
    page.goto(made.json["url"])
    page.wait_for_url(ui.root + "/")
    assert page.get_by_role("heading", name="Instances", exact=True).is_visible()
    page.context.clear_cookies()
    page.goto(made.json["url"])
    assert "used already or has expired" in page.get_by_role("alert").inner_text()
