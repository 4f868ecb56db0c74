"""Callback URL checks: where Headwater agrees to send notifications.

A callback URL must be an absolute ``http``/``https`` URL. At creation, a host written as a literal
private, loopback or link-local address (or ``localhost``) is refused unless private callbacks are
allowed; a name is accepted even when it does not resolve yet. At send time the sender resolves the
name and refuses a private answer with :func:`is_private_address`, so DNS cannot be used to reach
internal services.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import urllib.parse

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Hosts such as ``2130706433`` or ``0x7f.1`` are IPv4 addresses to inet_aton (and so to resolvers).
_LEGACY_IPV4 = re.compile(r"[0-9a-fx.]+", re.IGNORECASE)


def check_url(url: object, *, allow_private: bool) -> str | None:
    """The problem with ``url`` as a callback URL, or ``None`` when it is acceptable."""
    problem = check_absolute_url(url)
    if problem is not None or allow_private:
        return problem
    assert isinstance(url, str)
    host = (urllib.parse.urlsplit(url.strip()).hostname or "").rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return f"'{host}' is a loopback host; private callbacks are not allowed on this server"
    address = literal_address(host)
    if address is not None and is_private_address(address):
        return (
            f"{address} is a private, loopback or reserved address; "
            "private callbacks are not allowed on this server"
        )
    return None


def check_absolute_url(url: object) -> str | None:
    """The problem with ``url`` as an absolute http(s) URL, or ``None``."""
    if not isinstance(url, str) or not url.strip():
        return "must be an absolute http or https URL"
    text = url.strip()
    if any(ch.isspace() for ch in text):
        return "must not contain spaces"
    parts = urllib.parse.urlsplit(text)
    if parts.scheme.lower() not in ("http", "https") or not text.lower().startswith(
        parts.scheme.lower() + "://"
    ):
        return f"'{text}' must be an absolute URL starting with http:// or https://"
    if not parts.hostname:
        return f"'{text}' has no host"
    try:
        parts.port  # noqa: B018 - raises on a port out of range
    except ValueError:
        return f"'{text}' has an invalid port"
    return None


def literal_address(host: str) -> IPAddress | None:
    """The address ``host`` spells literally (any IPv4 form a resolver accepts), else ``None``."""
    host = host.strip("[]")
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        pass
    if _LEGACY_IPV4.fullmatch(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def is_private_address(ip: str | IPAddress) -> bool:
    """True for any address a public callback must not reach.

    Loopback, private, link-local, unique-local, site-local, unspecified, multicast, reserved and
    shared (carrier-grade NAT) ranges, and any other address that is not globally routable; an
    IPv4-mapped or IPv4-compatible IPv6 address is judged by its IPv4 address.
    """
    address = ipaddress.ip_address(ip) if isinstance(ip, str) else ip
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return is_private_address(address.ipv4_mapped)
        if address.sixtofour is not None:
            return is_private_address(address.sixtofour)
        if address.is_site_local:
            return True
    return (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_unspecified
        or address.is_multicast
        or address.is_reserved
        or not address.is_global
    )
