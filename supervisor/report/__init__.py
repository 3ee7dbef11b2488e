"""The morning report: `supervisor stats` (text, --json, --html)."""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from supervisor.config import Config, load_config, parse_duration
from supervisor.errors import UserError
from supervisor.home import Home
from supervisor.items import Item, now_utc, store_of
from supervisor.process import ProcessState
from supervisor.report.collect import Period, collect

__all__ = ["Period", "collect", "links", "load", "now_utc", "period"]


def parse_time(value: str, now: datetime) -> str:
    """An ISO date or time (UTC), or a duration back from now (12h, 7d)."""
    value = value.strip()
    try:
        return (now - timedelta(seconds=parse_duration(value))).strftime("%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        pass
    m = re.fullmatch(r"(\d{4}-\d\d-\d\d)(?:[T ](\d\d:\d\d)(?::(\d\d))?)?Z?", value)
    if not m:
        raise UserError(
            f"{value!r} is not a time: give a date (2026-11-20), a UTC time "
            "(2026-11-20T22:00) or a duration back from now (12h, 7d)"
        )
    return f"{m.group(1)}T{m.group(2) or '00:00'}:{m.group(3) or '00'}Z"


def period(home: Home, since: str | None, until: str | None) -> Period:
    now = datetime.now(UTC)
    end = parse_time(until, now) if until else now_utc()
    if since:
        return Period(parse_time(since, now), end, "--since")
    last = ProcessState(home).read() or {}
    if last.get("started_at"):
        return Period(str(last["started_at"]), end, "since the last start")
    return Period("", end, "everything: the supervisor has not started yet")


def links(home: Home, cfg: Config | None, out: Path | None = None) -> tuple[str, str]:
    """URL templates ({n}) for issues and pull requests: GitHub's pages, or the local forge's
    files (relative to the report when it is written to a file)."""
    if cfg is not None and cfg.forge == "github":
        from supervisor.github.auth import parse_target

        owner, repo = parse_target(cfg.target)
        api = cfg.github.api_url.rstrip("/")
        web = (
            "https://github.com" if api == "https://api.github.com" else api.removesuffix("/api/v3")
        )
        return f"{web}/{owner}/{repo}/issues/{{n}}", f"{web}/{owner}/{repo}/pull/{{n}}"
    base = home.forge_dir
    if out is not None:
        rel = Path(_relpath(base, out.parent))
        return f"{rel}/issues/{{n}}.json", f"{rel}/pulls/{{n}}.json"
    return f"{base}/issues/{{n}}.json", f"{base}/pulls/{{n}}.json"


def _relpath(path: Path, start: Path) -> str:
    return os.path.relpath(path.resolve(), start.resolve())


def load(home: Home) -> tuple[Config | None, list[Item]]:
    cfg = load_config(home.config_file) if home.config_file.exists() else None
    items = store_of(home.items_dir, home.events_file).all() if home.items_dir.exists() else []
    return cfg, items
