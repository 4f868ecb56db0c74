"""The element catalog: Act-On's metadata and OAuth URL."""

from __future__ import annotations

import urllib.parse

import pytest

from headwater.elements import registry
from headwater.errors import NotFoundError


def test_acton_metadata() -> None:
    catalog = registry.build(acton_base_url="https://acton.example/")
    acton = catalog.get("acton")
    described = acton.describe()
    assert described["events"]["methods"] == ["polling"]
    contacts = described["events"]["defaultPollerConfiguration"]["contacts"]
    assert contacts["idField"] == "_contact_id_"
    assert "modafter='${epoch}'" in contacts["url"]
    with pytest.raises(NotFoundError):
        catalog.get("nope")


def test_authorize_url() -> None:
    acton = registry.acton("https://acton.example/")
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
