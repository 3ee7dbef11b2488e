"""Faults a test can inject: each matches by method and a regex on the path, a number of times."""

from __future__ import annotations

import re
from dataclasses import dataclass

KINDS = (
    "timeout",
    "slow",
    "secondary_rate_limit",
    "rate_limit_exhausted",
    "unauthorized",
    "reset",
)
STATUS_CODES = (500, 502, 503, 504)
SECONDARY_MESSAGE = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "
    "If you reach out to GitHub Support for help, please include the request ID "
    "0000:0000:0000000:0000000:00000000."
)
SECONDARY_DOCS = (
    "https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api"
    "#about-secondary-rate-limits"
)
PRIMARY_DOCS = (
    "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
    "#about-the-primary-rate-limit"
)
STATUS_MESSAGES = {
    500: "Server Error",
    502: "Server Error",
    503: "Service Unavailable",
    504: "We couldn't respond to your request in time. Sorry about that.",
}


@dataclass
class Fault:
    """One injection. ``kind`` is a status code or one of ``KINDS``.

    ``seconds``: how long ``timeout`` holds the connection before dropping it unanswered, how
    long ``slow`` waits before answering, the ``Retry-After`` of ``secondary_rate_limit``, and
    how far ahead ``rate_limit_exhausted`` puts the reset. ``status``: 403 or 429 for the rate
    limit kinds.
    """

    kind: int | str
    method: str | None
    path_pattern: re.Pattern[str] | None
    times: int
    seconds: float
    status: int
    after: bool = False  # act it out after the request was applied (the answer is what is lost)

    def matches(self, method: str, path: str) -> bool:
        if self.times <= 0:
            return False
        if self.method is not None and self.method != method:
            return False
        return self.path_pattern is None or self.path_pattern.search(path) is not None


def make_fault(
    kind: int | str,
    method: str | None,
    path_pattern: str | None,
    times: int,
    seconds: float | None,
    status: int | None,
    after: bool = False,
) -> Fault:
    if isinstance(kind, int):
        if kind not in STATUS_CODES:
            raise ValueError(f"fault status must be one of {STATUS_CODES}, not {kind}")
    elif kind not in KINDS:
        raise ValueError(f"unknown fault {kind!r}: a status code or one of {KINDS}")
    if times < 1:
        raise ValueError("times must be at least 1")
    defaults = {"timeout": 30.0, "slow": 1.0, "secondary_rate_limit": 1.0}
    rate_status = status or 403
    if rate_status not in (403, 429):
        raise ValueError("rate limit faults answer 403 or 429")
    return Fault(
        kind,
        method.upper() if method else None,
        re.compile(path_pattern) if path_pattern else None,
        times,
        seconds if seconds is not None else defaults.get(str(kind), 2.0),
        rate_status,
        after,
    )


class Faults:
    """The pending injections, consumed first-in first-out."""

    def __init__(self) -> None:
        self.pending: list[Fault] = []

    def add(self, fault: Fault) -> None:
        self.pending.append(fault)

    def take(self, method: str, path: str) -> Fault | None:
        for fault in self.pending:
            if fault.matches(method, path):
                fault.times -= 1
                if fault.times == 0:
                    self.pending.remove(fault)
                return fault
        return None

    def clear(self) -> None:
        self.pending.clear()
