"""The sender's checks before any connection: bad URLs and private answers are refused.

No socket is opened: the resolver is a stub and every case ends before connecting.
"""

from __future__ import annotations

import aiohttp
import pytest

from headwater.delivery import sender


def _resolver(*answers: str) -> sender.Resolver:
    async def resolve(host: str, port: int) -> list[str]:
        return list(answers)

    return resolve


@pytest.mark.parametrize(
    ("url", "answers"),
    [
        ("https://hooks.example.com/in", ("10.1.2.3",)),
        ("https://hooks.example.com/in", ("93.184.216.34", "127.0.0.1")),  # any private answer
        ("https://hooks.example.com/in", ("::ffff:192.168.0.1",)),
        ("http://169.254.169.254/latest/meta-data", ()),  # a literal needs no resolving
        ("http://[::1]:8080/x", ()),
        ("http://2130706433/", ()),  # 127.0.0.1 written as a number
    ],
)
async def test_private_addresses_are_refused(url: str, answers: tuple[str, ...]) -> None:
    async with aiohttp.ClientSession() as http:
        post = sender.AiohttpSender(
            http, timeout_seconds=1, allow_private=False, resolver=_resolver(*answers)
        )
        outcome = await post.post(url, b"{}", {})
    assert outcome.refused and outcome.status is None and not outcome.ok
    assert outcome.error is not None and "private or loopback" in outcome.error


async def test_a_name_that_does_not_resolve_is_an_error_to_retry() -> None:
    async def nothing(host: str, port: int) -> list[str]:
        raise OSError("Name or service not known")

    async with aiohttp.ClientSession() as http:
        post = sender.AiohttpSender(http, timeout_seconds=1, allow_private=False, resolver=nothing)
        outcome = await post.post("https://nowhere.invalid/x", b"{}", {})
    assert outcome.status is None and not outcome.refused
    assert outcome.error == "cannot resolve nowhere.invalid: Name or service not known"


@pytest.mark.parametrize("url", ["ftp://example.com/x", "not a url", "https:///nohost"])
async def test_urls_that_are_not_http_are_refused(url: str) -> None:
    async with aiohttp.ClientSession() as http:
        post = sender.AiohttpSender(http, timeout_seconds=1, allow_private=True)
        outcome = await post.post(url, b"{}", {})
    assert outcome.refused and outcome.error is not None and "invalid callback URL" in outcome.error


def test_only_2xx_is_ok() -> None:
    assert sender.Outcome(status=204, latency_ms=1).ok
    assert not sender.Outcome(status=302, latency_ms=1).ok
    assert not sender.Outcome(status=None, latency_ms=1, error="timed out").ok
