"""A subscription's usage limit, as the agent CLIs report it, and when it resets."""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta

DEFAULT_BACKOFF_S = 3600.0  # a limit without a reset time: look again in an hour
_LIMIT = re.compile(r"usage limit|rate limit reached|limit reached|quota exceeded", re.I)
_EPOCH = re.compile(r"limit reached\|(\d{10})")
_IN = re.compile(
    r"try again in\s+((?:\d+\s*(?:days?|d|hours?|h|minutes?|mins?|m|seconds?|s)"
    r"[\s,]*(?:and\s+)?)+)",
    re.I,
)
_PART = re.compile(r"(\d+)\s*(days?|d|hours?|h|minutes?|mins?|m|seconds?|s)\b", re.I)
_AT = re.compile(r"try again at\s+(\d{1,2}):(\d{2})\s*(am|pm)?", re.I)
_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


def usage_limit_reset(text: str, now: float | None = None) -> float | None:
    """The epoch time the usage limit resets, if text reports one (a default back-off when it
    reports a limit without a time); None when text reports no usage limit."""
    if not _LIMIT.search(text):
        return None
    now = time.time() if now is None else now
    if m := _EPOCH.search(text):
        return float(m.group(1))
    if m := _IN.search(text):
        seconds = sum(int(n) * _UNITS[unit[0].lower()] for n, unit in _PART.findall(m.group(1)))
        return now + max(60.0, float(seconds))
    if m := _AT.search(text):
        hour, minute = int(m.group(1)) % 12 if m.group(3) else int(m.group(1)), int(m.group(2))
        if m.group(3) and m.group(3).lower() == "pm":
            hour += 12
        local = datetime.fromtimestamp(now)
        at = local.replace(hour=hour % 24, minute=minute, second=0, microsecond=0)
        if at.timestamp() <= now:
            at += timedelta(days=1)
        return at.timestamp()
    return now + DEFAULT_BACKOFF_S
