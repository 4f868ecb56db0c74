from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from headwater.domain import variables

CURSOR = datetime(2026, 11, 29, 10, 15, 0, 123456, tzinfo=UTC)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("/hubs/m/c?where=modafter='${epoch}'", "/hubs/m/c?where=modafter='1795947300123'"),
        ("/hubs/m/c?since=${epoch:ms}", "/hubs/m/c?since=1795947300123"),
        ("/hubs/m/c?since=${milliseconds}", "/hubs/m/c?since=1795947300123"),
        ("/hubs/m/c?since=${epoch:s}", "/hubs/m/c?since=1795947300"),
        ("/hubs/m/c?since=${epoch:us}", "/hubs/m/c?since=1795947300123456"),
        (
            "/hubs/m/c?where=updated>'${gmtDate:yyyy-MM-dd'T'HH:mm:ss'Z'}'",
            "/hubs/m/c?where=updated>'2026-11-29T10:15:00Z'",
        ),
        ("/hubs/m/c?d=${date:yyyy-MM-dd HH:mm:ss.SSS}", "/hubs/m/c?d=2026-11-29%2010:15:00.123"),
        ("/hubs/m/c?d=${gmtDate:yyyy-MM-dd'T'HH:mm:ssXXX}", "/hubs/m/c?d=2026-11-29T10:15:00Z"),
        (
            "/hubs/m/c?d=${dateTimeZone:America/New_York:yyyy-MM-dd'T'HH:mm:ssXXX}",
            "/hubs/m/c?d=2026-11-29T05:15:00-05:00",
        ),
        (
            "/hubs/m/c?d=${dateTimeZone:Asia/Kolkata:yyyy-MM-dd'T'HH:mm:ssZ}",
            "/hubs/m/c?d=2026-11-29T15:45:00%2B0530",
        ),
        ("/hubs/m/c?d=${dateTimeZone:-8:00:yyyy-MM-dd HH:mm}", "/hubs/m/c?d=2026-11-29%2002:15"),
        ("/hubs/m/c?d=${dateTimeZone:+05:30:HH:mm}", "/hubs/m/c?d=15:45"),
        ("/hubs/m/c?d=${dateTimeZone:-8:HH:mm}", "/hubs/m/c?d=02:15"),
        ("/hubs/m/c?d=${dateTimeZone:PST:EEE, d MMM yyyy}", "/hubs/m/c?d=Sun%2C%2029%20Nov%202026"),
        ("/hubs/m/c?d=${gmtDate:''yyyy''}", "/hubs/m/c?d=%272026%27"),
        (
            "/hubs/m/lists/{listId}/c?a=${epoch:s}&b=${epoch:s}",
            "/hubs/m/lists/{listId}/c?a=1795947300&b=1795947300",
        ),
        ("/hubs/m/lists", "/hubs/m/lists"),
    ],
)
def test_expand(url: str, expected: str) -> None:
    assert variables.validate(url) == []
    assert variables.expand(url, CURSOR) == expected


def test_expand_uses_the_instant_whatever_the_cursor_zone() -> None:
    tokyo = CURSOR.astimezone(timezone(timedelta(hours=9)))
    url = "/hubs/x?a=${epoch}&b=${gmtDate:HH:mm}"
    assert variables.expand(url, tokyo) == variables.expand(url, CURSOR)


def test_expand_before_the_epoch() -> None:
    before = datetime(1969, 12, 31, 23, 59, 59, 999500, tzinfo=UTC)
    assert variables.expand("${epoch}|${epoch:s}|${epoch:us}", before) == "-1|-1|-500"


def test_expand_refuses_a_naive_cursor() -> None:
    with pytest.raises(ValueError, match="aware"):
        variables.expand("/hubs/x?a=${epoch}", datetime(2026, 1, 1))


def test_expand_refuses_an_unknown_variable() -> None:
    with pytest.raises(ValueError, match="unknown URL variable"):
        variables.expand("/hubs/x?a=${now}", CURSOR)


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("/hubs/x?a=${now}", "unknown URL variable '${now}'"),
        ("/hubs/x?a=${}", "unknown URL variable '${}'"),
        ("/hubs/x?a=${epoch:ns}", "unknown epoch unit 'ns'"),
        ("/hubs/x?a=${date}", "needs a Java date pattern"),
        ("/hubs/x?a=${gmtDate:}", "needs a Java date pattern"),
        ("/hubs/x?a=${gmtDate:milliseconds}", "needs a Java date pattern"),
        ("/hubs/x?a=${gmtDate:yyyy-MM-ddTHH}", "invalid pattern letter 'T'"),
        ("/hubs/x?a=${date:YYYY}", "week year"),
        ("/hubs/x?a=${dateTimeZone:yyyy}", "must be written ${dateTimeZone:<zone>:<Java pattern>}"),
        ("/hubs/x?a=${dateTimeZone:Mars/Olympus:yyyy}", "unknown time zone 'Mars/Olympus'"),
        ("/hubs/x?a=${dateTimeZone:America:yyyy}", "unknown time zone 'America'"),
        ("/hubs/x?a=${dateTimeZone:Etc:yyyy}", "unknown time zone 'Etc'"),
        ("/hubs/x?a=${gmtDate:yyyy-MM-dd'T'HH:mmXXXX}", "X is written X, XX or XXX"),
        ("/hubs/x?a=${date:XXXXX}", "X is written X, XX or XXX"),
        ("/hubs/x?a=${epoch", "never closed"),
        ("/hubs/x/{list?a=1", "brace"),
        ("/hubs/x/{list id}", "brace"),
        ("/hubs/x/}", "brace"),
    ],
)
def test_validate_names_each_problem(url: str, words: str) -> None:
    problems = variables.validate(url)
    assert len(problems) == 1, problems
    assert words in problems[0]


def test_a_cursor_at_the_edge_of_the_calendar_is_a_value_error() -> None:
    last = datetime(9999, 12, 31, 23, 59, tzinfo=UTC)
    with pytest.raises(ValueError, match="cannot be written"):
        variables.expand("/hubs/x?a=${dateTimeZone:+14:00:yyyy}", last)


def test_validate_reports_every_problem() -> None:
    assert len(variables.validate("/hubs/x?a=${now}&b=${epoch:ns}&c=${date}")) == 3


def test_placeholders() -> None:
    url = "/hubs/m/lists/{listId}/c/{contact-id}/{listId}?w=${epoch}&x=${gmtDate:yyyy}"
    assert variables.placeholders(url) == ["listId", "contact-id"]
    assert variables.placeholders("/hubs/m/lists") == []


def test_fill_encodes_the_value_and_leaves_variables_alone() -> None:
    url = "/hubs/m/lists/{listId}/contacts?where=modafter='${epoch}'"
    filled = variables.fill(url, "listId", "l-0001")
    assert filled == "/hubs/m/lists/l-0001/contacts?where=modafter='${epoch}'"
    assert variables.fill(url, "listId", "a b/c?") == (
        "/hubs/m/lists/a%20b%2Fc%3F/contacts?where=modafter='${epoch}'"
    )
    assert variables.fill(url, "other", "x") == url
    assert variables.placeholders(filled) == []
