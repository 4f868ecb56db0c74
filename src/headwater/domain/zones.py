"""Time zones by name: IANA names, Java's short ids (``PST``) and UTC offsets (``+05:30``)."""

from __future__ import annotations

import functools
import re
from datetime import UTC, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

OFFSET = re.compile(r"(?:GMT|UTC|UT)?([+-])(\d{1,2})(?::?(\d{2}))?", re.IGNORECASE)
"""A UTC offset such as ``+05:30``, ``-0800`` or ``GMT+1``."""

# java.time.ZoneId.SHORT_IDS, which Java's TimeZone.getTimeZone also resolves.
_JAVA_SHORT_IDS = {
    "ACT": "Australia/Darwin", "AET": "Australia/Sydney", "AGT": "America/Argentina/Buenos_Aires",
    "ART": "Africa/Cairo", "AST": "America/Anchorage", "BET": "America/Sao_Paulo",
    "BST": "Asia/Dhaka", "CAT": "Africa/Harare", "CNT": "America/St_Johns",
    "CST": "America/Chicago", "CTT": "Asia/Shanghai", "EAT": "Africa/Addis_Ababa",
    "ECT": "Europe/Paris", "IET": "America/Indiana/Indianapolis", "IST": "Asia/Kolkata",
    "JST": "Asia/Tokyo", "MIT": "Pacific/Apia", "NET": "Asia/Yerevan", "NST": "Pacific/Auckland",
    "PLT": "Asia/Karachi", "PNT": "America/Phoenix", "PRT": "America/Puerto_Rico",
    "PST": "America/Los_Angeles", "SST": "Pacific/Guadalcanal", "VST": "Asia/Ho_Chi_Minh",
}  # fmt: skip
_FIXED_SHORT_IDS = {"EST": -300, "MST": -420, "HST": -600}


@functools.lru_cache(maxsize=256)
def zone(name: str | None) -> tzinfo:
    """The time zone ``name`` stands for; ``None`` or empty is UTC. Raises ValueError."""
    text = (name or "").strip()
    if text.upper() in ("", "UTC", "GMT", "UT", "Z"):
        return UTC
    offset = OFFSET.fullmatch(text)
    if offset is not None:
        sign, hours, minutes = offset.groups()
        delta = timedelta(hours=int(hours), minutes=int(minutes or 0))
        if delta > timedelta(hours=18):
            raise ValueError(f"time zone offset '{text}' is out of range")
        return timezone(-delta if sign == "-" else delta)
    if text.upper() in _FIXED_SHORT_IDS:
        return timezone(timedelta(minutes=_FIXED_SHORT_IDS[text.upper()]))
    try:
        return ZoneInfo(_JAVA_SHORT_IDS.get(text.upper(), text))
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a folder such as 'America'
        raise ValueError(
            f"unknown time zone '{text}'; use an IANA name such as 'America/New_York'"
            " or an offset such as '+05:30'"
        ) from None
