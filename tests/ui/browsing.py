"""What the browser tests do again and again: sign in, check a page with axe, take a
screenshot, wait for something to show."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.ui.conftest import ARTIFACTS, AXE, Tenant, UiServer

AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]


def sign_in(page: Any, ui: UiServer, tenant: Tenant) -> None:
    page.goto(ui.root + "/sign-in")
    page.get_by_label("Organization secret").fill(tenant.organization_secret)
    page.get_by_label("User secret").fill(tenant.user_secret)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(ui.root + "/")


def check_accessibility(page: Any, name: str) -> None:
    """axe-core finds no violation on the page as it is now."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", AXE_TAGS
    )
    violations = [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [n["target"] for n in v["nodes"]][:5],
        }
        for v in result["violations"]
    ]
    assert violations == [], f"{name}: " + json.dumps(violations, indent=2)


def screenshot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def eventually(
    check: Callable[[], bool], what: str, timeout: float = 20.0, every: float = 0.1
) -> None:
    """Wait until ``check()`` holds; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"not seen in {timeout} s: {what}")
        time.sleep(every)


def reload_until(page: Any, pattern: str, where: str = "main", timeout: float = 20.0) -> None:
    """Reload the page until the text of ``where`` matches ``pattern``."""
    compiled = re.compile(pattern)

    def shows() -> bool:
        if compiled.search(page.locator(where).inner_text()):
            return True
        page.reload()
        return False

    eventually(shows, f"{pattern!r} in {where} of {page.url}", timeout=timeout, every=0.25)
