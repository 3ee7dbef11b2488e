"""The end of a night: the report written, and the people told (when notifications are on).

Neither may stop or fail the supervisor: every error here is logged and swallowed.
"""

from __future__ import annotations

import logging

from supervisor import report
from supervisor.config import Config
from supervisor.home import Home
from supervisor.items import now_utc
from supervisor.notify import Notifier
from supervisor.report import html
from supervisor.report.collect import Period
from supervisor.store import write_text_atomic

log = logging.getLogger("supervisor.morning")


def end_of_night(home: Home, cfg: Config, started_at: str, reason: str) -> None:
    """Write logs/report.html for the night that just ended, and send its summary."""
    try:
        out = home.logs / "report.html"
        _, items = report.load(home)
        issue_url, pull_url = report.links(home, cfg, out)
        period = Period(started_at, now_utc(), "the night that just ended")
        figures = report.collect(items, period, issue_url, pull_url)
        out.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(out, html.render(figures))
        notifier = Notifier(cfg.notify)
        if not notifier.channels():
            return
        o = figures["outcomes"]
        people = len(figures["needs_person"])
        text = (
            f"{o['merged']} merged, {o['pull_requests']} pull request(s), {o['failed']} failed; "
            f"{people} item(s) need a person. It stopped: {reason}."
        )
        notifier.send("supervisor: the night is over", text, link=str(out))
    except Exception:  # a report or a notification must never turn an exit into a crash
        log.exception("the end-of-night report or notification failed")
