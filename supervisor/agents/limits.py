"""A subscription's usage limit, as the agent CLIs report it, and when it resets.

Wordings seen in the pinned CLIs: codex 0.169.0 "You've hit your usage limit. Try again at 3:04
PM." (later days: "Try again at Nov 22nd, 2026 3:04 PM."); claude 2.1.197 "You've hit your session
limit · resets 3pm (Europe/London)" (later days: "resets Nov 22, 3pm (UTC)"); older claude
"usage limit reached|<epoch>"; and "try again in 2 hours".
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_BACKOFF_S = 3600.0  # a limit without a readable reset time: look again in an hour
_LIMIT = re.compile(
    r"usage limit|session limit|hit your \w+ limit|limit reached|quota exceeded", re.I
)
_EPOCH = re.compile(r"limit reached\|(\d{10})")
_IN = re.compile(
    r"try again in\s+((?:\d+\s*(?:days?|d|hours?|h|minutes?|mins?|m|seconds?|s)"
    r"[\s,]*(?:and\s+)?)+)",
    re.I,
)
_PART = re.compile(r"(\d+)\s*(days?|d|hours?|h|minutes?|mins?|m|seconds?|s)\b", re.I)
_AT = re.compile(
    r"(?:try again at|resets)\s+"
    r"(?:(?P<mon>[A-Z][a-z]{2})\s+(?P<day>\d{1,2})(?:st|nd|rd|th)?,\s*(?:(?P<year>\d{4})\s+)?)?"
    r"(?P<hour>\d{1,2})(?::(?P<minute>\d{2}))?\s*(?P<ampm>am|pm)?"
    r"(?:\s*\((?P<tz>[A-Za-z_/+\-0-9]+)\))?",
    re.I,
)
_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]


def usage_limit_reset(text: str, now: float | None = None) -> float | None:
    """The epoch time the usage limit resets, if text reports one (a default back-off when it
    reports a limit without a readable time); None when text reports no usage limit."""
    if not _LIMIT.search(text):
        return None
    now = time.time() if now is None else now
    if m := _EPOCH.search(text):
        return float(m.group(1))
    if m := _IN.search(text):
        seconds = sum(int(n) * _UNITS[unit[0].lower()] for n, unit in _PART.findall(m.group(1)))
        return now + max(60.0, float(seconds))
    if m := _AT.search(text):
        at = _clock_time(m, now)
        if at is not None:
            return at
    return now + DEFAULT_BACKOFF_S


def _zone(name: str | None) -> tzinfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _clock_time(m: re.Match[str], now: float) -> float | None:
    hour, minute = int(m.group("hour")), int(m.group("minute") or 0)
    ampm = (m.group("ampm") or "").lower()
    if ampm:
        hour = hour % 12 + (12 if ampm == "pm" else 0)
    if hour > 23 or minute > 59:
        return None
    zone = _zone(m.group("tz"))
    local = datetime.fromtimestamp(now, zone) if zone else datetime.fromtimestamp(now)
    day = local
    if m.group("mon"):
        mon = m.group("mon").lower()
        if mon not in _MONTHS:
            return None
        year = int(m.group("year") or local.year)
        day = local.replace(year=year, month=_MONTHS.index(mon) + 1, day=int(m.group("day")))
    at = day.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if not m.group("mon") and at.timestamp() <= now:
        at += timedelta(days=1)
    return at.timestamp()
