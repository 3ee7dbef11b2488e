"""The figures of a period, from the items alone (every transition and attempt is in them).

The JSON is `supervisor stats --json`; its keys are stable (SCHEMA below, in the README). An item
counts in a period when something happened to it then (a transition, an agent run); outcome
counts are transitions that happened in the period.
"""

from __future__ import annotations

import functools
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from supervisor.items import TERMINAL, Item, now_utc, sum_runs

SCHEMA_VERSION = 1
# outcome -> the state whose arrival counts it
OUTCOMES = {
    "found": "new",
    "filed": "triaged",
    "analysed": "analyzed",
    "approved": "approved",
    "fixed": "reviewing",  # a candidate passed verification (the gates, the stress runs)
    "pull_requests": "pr_open",
    "merged": "merged",
    "failed": "failed",
    "closed_wontfix": "closed_wontfix",
    "ignored": "ignored",
}
COUNTED = {state: name for name, state in OUTCOMES.items()}
STEPS = ("analyzed", "awaiting_approval", "fixing", "verifying", "reviewing", "publishing")


@dataclass(frozen=True)
class Period:
    since: str  # ISO UTC, "" = the beginning
    until: str  # ISO UTC
    by: str  # how it was chosen: "the last start", "--since", "everything"

    def holds(self, t: str) -> bool:
        return bool(t) and self.since <= t <= self.until


@functools.lru_cache(maxsize=1 << 16)
def epoch(t: str | None) -> float:
    """Seconds since the epoch of an ISO UTC time (0 when it is not one, or None)."""
    try:
        return datetime.fromisoformat(t).timestamp() if t else 0.0
    except ValueError:
        return 0.0


def _seconds(a: str, b: str) -> float:
    return max(0.0, epoch(b) - epoch(a)) if epoch(a) and epoch(b) else 0.0


def link(item: Item, issue_url: str, pull_url: str) -> dict[str, str]:
    out = {}
    if item.issue is not None and issue_url:
        out["issue"] = issue_url.format(n=item.issue)
    if item.pull is not None and pull_url:
        out["pull"] = pull_url.format(n=item.pull)
    return out


def collect(
    items: list[Item],
    period: Period,
    issue_url: str = "",
    pull_url: str = "",
    only: str | None = None,
) -> dict[str, Any]:
    """The documented figures. issue_url/pull_url: templates with {n} for links."""
    if only is not None:
        items = [i for i in items if i.id == only]
    active: list[Item] = []
    outcomes: Counter[str] = Counter()
    failed: list[dict[str, Any]] = []
    step_time: defaultdict[str, float] = defaultdict(float)
    reasons: Counter[str] = Counter()
    attempts = {"total": 0, "succeeded": 0, "failed": 0}
    runs: list[dict[str, Any]] = []
    nights: defaultdict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in items:
        hist = item.history
        touched = False
        for i, h in enumerate(hist):
            t = str(h.get("time", ""))
            end = str(hist[i + 1]["time"]) if i + 1 < len(hist) else period.until
            if h.get("to") in STEPS:  # time spent in the step, clipped to the period
                start = max(t, period.since)
                stop = min(end, period.until)
                if start < stop:
                    step_time[str(h["to"])] += _seconds(start, stop)
            if not period.holds(t):
                continue
            touched = True
            name = COUNTED.get(str(h.get("to")))
            if name is not None and (name != "found" or h.get("from") is None):
                outcomes[name] += 1
            if h.get("to") == "failed":
                failed.append({"item": item.id, "title": item.title, "why": h.get("reason", "")})
        for a in item.attempts:
            if period.holds(str(a.get("started_at", ""))):
                touched = True
                attempts["total"] += 1
                if a.get("status") in ("succeeded", "failed"):
                    attempts[a["status"]] += 1
                if a.get("failure_reason"):
                    reasons[str(a["failure_reason"])] += 1
        for run in item.agent_runs():
            at = str(run.get("at", ""))
            if at:
                nights[at[:10]].append(run)
            if period.holds(at):
                runs.append(run)
        if touched:
            active.append(item)
    return {
        "schema_version": SCHEMA_VERSION,
        "generated_at": now_utc(),
        "period": {"since": period.since or None, "until": period.until, "by": period.by},
        "items": {
            "total": len(items),
            "active": len(active),
            "by_state": dict(sorted(Counter(i.state for i in items).items())),
        },
        "outcomes": {name: outcomes[name] for name in OUTCOMES},
        "failed": failed,
        "needs_person": [_person(i, issue_url, pull_url) for i in items if _needs(i)],
        "pull_requests": [
            {"item": i.id, "number": i.pull, "state": _pull_state(i), **link(i, "", pull_url)}
            for i in active
            if i.pull is not None
        ],
        "attempts": {**attempts, "failure_reasons": dict(reasons.most_common())},
        "time_per_step_s": {s: round(step_time[s], 1) for s in STEPS if step_time[s]},
        "agents": _agents(runs),
        "flaky": [_flaky(i) for i in active if i.reproduction.get("before")],
        "nights": [{"date": day, **sum_runs(day_runs)} for day, day_runs in sorted(nights.items())],
        "timeline": [_timeline(i, period, issue_url, pull_url) for i in _recent(active)],
    }


TIMELINE_MAX = 300  # rows in the timeline; the counts cover every item


def _recent(active: list[Item]) -> list[Item]:
    """The timeline's rows: the items that need a person first, then the latest."""
    people = [i for i in active if _needs(i)]
    rest = sorted((i for i in active if not _needs(i)), key=lambda i: i.updated_at, reverse=True)
    return (people + rest)[:TIMELINE_MAX]


def _needs(item: Item) -> bool:
    return bool(item.needs_person) or item.state == "failed"


def _person(item: Item, issue_url: str, pull_url: str) -> dict[str, Any]:
    why = item.needs_person or (item.history[-1].get("reason", "") if item.history else "")
    return {"item": item.id, "title": item.title, "why": why, **link(item, issue_url, pull_url)}


def _pull_state(item: Item) -> str:
    if item.state == "merged":
        return "merged"
    if item.state == "closed_wontfix":
        return "closed"
    return "open" if item.state not in TERMINAL else item.state


def _agents(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by: defaultdict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in runs:
        by[(str(r.get("name", "?")), str(r.get("role", "?")))].append(r)
    return [{"agent": a, "role": role, **sum_runs(rs)} for (a, role), rs in sorted(by.items())]


def _flaky(item: Item) -> dict[str, Any]:
    before = item.reproduction["before"]
    after = next(
        (a["reproduction"] for a in reversed(item.attempts) if a.get("reproduction")), None
    )

    def fig(f: dict[str, Any] | None) -> dict[str, Any] | None:
        if not f or f.get("error"):
            return None
        keep = ("runs", "failures", "rate", "ci95", "verdict", "words")
        return {k: f.get(k) for k in keep}

    return {
        "item": item.id,
        "test": item.source.get("test"),
        "state": item.state,
        "before": fig(before),
        "after": fig(after),
    }


def _timeline(item: Item, period: Period, issue_url: str, pull_url: str) -> dict[str, Any]:
    spans = []
    hist = item.history
    for i, h in enumerate(hist):
        start = str(h.get("time", ""))
        end = str(hist[i + 1]["time"]) if i + 1 < len(hist) else period.until
        if end < period.since or start > period.until:
            continue
        spans.append({"state": h.get("to"), "from": max(start, period.since), "to": end})
    return {
        "item": item.id,
        "title": item.title[:120],
        "kind": item.kind,
        "state": item.state,
        "needs_person": _needs(item),
        "spans": spans,
        **link(item, issue_url, pull_url),
    }


def utc(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
