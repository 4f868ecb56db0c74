"""The element catalog: Act-On's metadata and OAuth URL."""

from __future__ import annotations

import urllib.parse

import pytest

from headwater.elements import registry
from headwater.errors import ConfigurationError, NotFoundError


def test_acton_metadata() -> None:
    catalog = registry.build({"HEADWATER_ACTON_BASE_URL": "https://acton.example/"})
    acton = catalog.get("acton")
    described = acton.describe()
    assert described["events"]["methods"] == ["polling", "webhooks"]
    contacts = described["events"]["defaultPollerConfiguration"]["contacts"]
    assert contacts["idField"] == "_contact_id_"
    assert "modafter='${epoch}'" in contacts["url"]
    with pytest.raises(NotFoundError):
        catalog.get("nope")


def test_authorize_url() -> None:
    acton = registry.build({"HEADWATER_ACTON_BASE_URL": "https://acton.example/"}).get("acton")
    url = acton.authorize_url(client_id="cid", redirect_uri="https://app/cb?x=1", state="st")
    parts = urllib.parse.urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://acton.example/authorize"
    query = dict(urllib.parse.parse_qsl(parts.query))
    assert query == {
        "scope": "PRODUCTION",
        "response_type": "code",
        "client_id": "cid",
        "redirect_uri": "https://app/cb?x=1",
        "state": "st",
    }


@pytest.mark.parametrize("raw", ["inf", "0", "-1", "fast"])
def test_a_bad_element_rate_names_the_variable(raw: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        registry.build({"HEADWATER_ACTON_RATE_PER_SECOND": raw})
    assert raised.value.message.startswith(f"HEADWATER_ACTON_RATE_PER_SECOND={raw!r}")
    assert "greater than 0" in raised.value.message


def test_element_settings_override_the_declaration() -> None:
    default = registry.build({}).get("acton")
    assert default.base_url == "https://restapi.actonsoftware.com"
    assert default.rate_per_second == 5.0
    moved = registry.build(
        {"HEADWATER_ACTON_BASE_URL": "http://127.0.0.1:9/", "HEADWATER_ACTON_RATE_PER_SECOND": "50"}
    ).get("acton")
    assert moved.base_url == "http://127.0.0.1:9"
    assert moved.rate_per_second == 50.0
