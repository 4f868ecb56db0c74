from __future__ import annotations

import ipaddress

import pytest

from headwater.domain import callbacks


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.255.0.9",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.0.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "192.0.2.1",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "fd12:3456::1",
        "fec0::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "::127.0.0.1",
        "2002:7f00:1::",
        "2001:db8::1",
    ],
)
def test_private_addresses(address: str) -> None:
    assert callbacks.is_private_address(address) is True
    assert callbacks.is_private_address(ipaddress.ip_address(address)) is True


@pytest.mark.parametrize(
    "address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"]
)
def test_public_addresses(address: str) -> None:
    assert callbacks.is_private_address(address) is False


def test_is_private_address_refuses_a_non_address() -> None:
    with pytest.raises(ValueError):
        callbacks.is_private_address("example.com")


@pytest.mark.parametrize(
    "url",
    [
        "https://app.example.com/events",
        "http://app.example.com:8080/events?x=1",
        "https://93.184.216.34/events",
        "https://[2606:4700:4700::1111]/events",
        "https://not-yet-resolvable.invalid/events",
        "HTTPS://APP.EXAMPLE.COM/",
        "https://user:pass@app.example.com/",
        "https://cafe.de/",
    ],
)
def test_acceptable_callback_urls(url: str) -> None:
    assert callbacks.check_url(url, allow_private=False) is None


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("app.example.com/events", "http:// or https://"),
        ("ftp://app.example.com/", "http:// or https://"),
        ("https:app.example.com", "http:// or https://"),
        ("/events", "http:// or https://"),
        ("https://", "no host"),
        ("https://:80/", "no host"),
        ("https://app.example.com:70000/", "port"),
        ("https://app example.com/", "spaces"),
        ("", "absolute"),
        (None, "absolute"),
        (42, "absolute"),
    ],
)
def test_malformed_callback_urls(url: object, words: str) -> None:
    for allow in (False, True):
        problem = callbacks.check_url(url, allow_private=allow)
        assert problem is not None and words in problem


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost/",
        "http://LOCALHOST:9000/",
        "http://localhost./",
        "http://app.localhost/",
        "http://127.0.0.1:8000/events",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[fe80::1%25eth0]/",
        "http://10.0.0.1/",
        "http://169.254.169.254/latest/meta-data",
        "http://0.0.0.0/",
        "http://2130706433/",
        "http://0x7f.1/",
        "http://127.1/",
        "http://017700000001/",
    ],
)
def test_literal_private_hosts_are_refused_unless_allowed(url: str) -> None:
    problem = callbacks.check_url(url, allow_private=False)
    assert problem is not None and "private" in problem
    assert callbacks.check_url(url, allow_private=True) is None


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("[::1]", "::1"),
        ("2130706433", "127.0.0.1"),
        ("0x7f.0.0.1", "127.0.0.1"),
        ("app.example.com", None),
        ("cafe.de", None),
        ("1.example", None),
    ],
)
def test_literal_address(host: str, expected: str | None) -> None:
    found = callbacks.literal_address(host)
    assert (None if found is None else str(found)) == expected
