"""The settings table: every ``Settings`` field has a row, the environment is parsed through it,
and README.md shows it as it is."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from headwater import settings
from headwater.errors import ConfigurationError

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_settings_field_has_one_row() -> None:
    # element_settings holds the HEADWATER_<KEY>_* variables each element declares for itself
    fields = [f.name for f in dataclasses.fields(settings.Settings) if f.name != "element_settings"]
    rows = [row.field for row in settings.variables()]
    missing = sorted(set(fields) - set(rows))
    assert missing == [], f"Settings fields without a row in settings._FIELDS: {missing}"
    assert sorted(rows) == sorted(fields), "a field has two rows, or a row names no field"
    names = [row.name for row in settings.variables()]
    assert len(set(names)) == len(names)
    assert all(name.startswith("HEADWATER_") for name in names)
    assert all(row.meaning.strip() for row in settings.variables())


def test_the_readme_shows_the_settings_table_as_the_code_has_it() -> None:
    text = README.read_text()
    table = settings.markdown_table()
    assert table in text, (
        "README.md's settings table differs from the code's; paste the output of "
        f"`headwater settings` into it:\n{table}"
    )


def test_each_row_is_read_from_the_environment() -> None:
    samples = {
        settings.TEXT: ("postgresql://u@h/db", "postgresql://u@h/db"),
        settings.PATH: ("/var/lib/hw", Path("/var/lib/hw")),
        settings.BOOLEAN: ("yes", True),
        settings.SECONDS_LIST: ("1,2.5", (1.0, 2.5)),
        settings.NUMBER: ("0", 0.0),
        settings.POSITIVE: ("2.5", 2.5),
        settings.COUNT: ("7", 7),
        settings.WHOLE: ("0", 0),
        settings.PATH_LIST: ("/a:/b", (Path("/a"), Path("/b"))),
        settings.LOG_FORMAT: ("JSON", "json"),
    }
    for row in settings.variables():
        raw, expected = samples[row.kind]
        got = getattr(settings.from_env({row.name: raw}), row.field)
        assert got == expected, row.name


def test_defaults_and_the_data_folder() -> None:
    assert settings.from_env({}) == settings.Settings()
    blank = {"HEADWATER_SECRET_KEY": "", "HEADWATER_ALLOW_PRIVATE_CALLBACKS": " "}
    moved = settings.from_env({"HEADWATER_DATA_DIR": "/srv/hw", **blank})
    assert moved.database_url == "sqlite:////srv/hw/headwater.db"
    assert moved.secret_key is None and moved.allow_private_callbacks is False


@pytest.mark.parametrize(
    ("name", "raw", "problem"),
    [
        ("HEADWATER_POLL_CONCURRENCY", "1.5", "is not a whole number"),
        ("HEADWATER_POLL_CONCURRENCY", "0", "must be 1 or more"),
        ("HEADWATER_RETENTION_DAYS", "thirty", "is not a number"),
        ("HEADWATER_RETENTION_DAYS", "0", "greater than 0"),
        ("HEADWATER_TICK_SECONDS", "inf", "greater than 0"),
        ("HEADWATER_POLL_OVERLAP_SECONDS", "-1", "0 or more"),
        ("HEADWATER_ALLOW_PRIVATE_CALLBACKS", "sure", "is not a boolean"),
        ("HEADWATER_RETRY_SCHEDULE", "4,x", "comma-separated list of seconds"),
        ("HEADWATER_LOG_FORMAT", "yaml", "must be one of: text, json"),
    ],
)
def test_a_bad_value_names_the_variable(name: str, raw: str, problem: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        settings.from_env({name: raw})
    assert raised.value.message.startswith(f"{name}={raw!r}")
    assert problem in raised.value.message


def test_a_retry_schedule_is_read_in_seconds() -> None:
    found = settings.from_env({"HEADWATER_RETRY_SCHEDULE": "1,2.5,86400"})
    assert found.retry_schedule == (1.0, 2.5, 86400.0)
    twenty = ",".join(["60"] * 20)
    assert len(settings.from_env({"HEADWATER_RETRY_SCHEDULE": twenty}).retry_schedule) == 20


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (",".join(["4"] * 21), "has 21 delays; at most 20"),
        ("4,0.5", "from 1 to 86400 seconds (24 hours), not 0.5"),
        ("4,90000", "from 1 to 86400 seconds (24 hours), not 90000"),
        ("4,-1", "not -1"),
        ("4,inf", "not inf"),
        ("4,nan", "not nan"),
        ("4,1e308", "not 1e+308"),
        ("9" * 400, "not inf"),
        ("4,x", "not a comma-separated list of seconds"),
    ],
)
def test_a_bad_retry_schedule_is_refused_naming_the_variable(text: str, words: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        settings.from_env({"HEADWATER_RETRY_SCHEDULE": text})
    assert "HEADWATER_RETRY_SCHEDULE=" in caught.value.message
    assert words in caught.value.message


def test_element_settings_are_every_other_headwater_variable() -> None:
    read = settings.from_env(
        {
            "HEADWATER_ACTON_BASE_URL": "http://127.0.0.1:1",
            "HEADWATER_TICK_SECONDS": "0.5",
            "HEADWATER_ELEMENTS_PATH": "/opt/one:/opt/two",
            "OTHER": "x",
        }
    )
    assert read.element_settings == {"HEADWATER_ACTON_BASE_URL": "http://127.0.0.1:1"}
    assert read.elements_path == (Path("/opt/one"), Path("/opt/two"))
    assert read.tick_seconds == 0.5
