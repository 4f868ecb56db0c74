"""Settings from the environment: the retry schedule has the bounds of a configured one."""

from __future__ import annotations

import pytest

from headwater import settings
from headwater.errors import ConfigurationError


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
