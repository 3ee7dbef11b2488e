"""state/results/issue-<n>.json and the attempt's summary.md: what the supervisor observed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from supervisor import store
from supervisor.home import Home
from supervisor.items import Item, now_utc
from supervisor.redact import redact


def _duration(att: dict[str, Any]) -> float:
    try:
        start = datetime.strptime(att["started_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except (KeyError, ValueError):
        return 0.0
    return round((datetime.now(UTC) - start).total_seconds(), 1)


def write_result(home: Home, item: Item, base_branch: str, pr_url: str | None = None) -> None:
    """Write the result of the item's current attempt (and its summary.md)."""
    att = item.current_attempt()
    assert att is not None and item.issue is not None
    summary = home.attempt_dir(item.issue, att["n"]) / "summary.md"
    agent = att.get("agent") or {
        "name": None,
        "exit_code": None,
        "session_id": None,
        "tokens": {"input": 0, "output": 0, "cached_input": 0},
        "cost_usd": None,
    }
    store.write_text_atomic(summary, redact(render_summary(item, att)))
    store.write_json(
        home.result_file(item.issue),
        {
            "issue_id": str(item.issue),
            "item_id": item.id,
            "attempt": att["n"],
            "status": "success" if att.get("status") == "succeeded" else "failed",
            "failure_reason": att.get("failure_reason"),
            "branch": item.branch,
            "base_branch": base_branch,
            "base_sha": att.get("base_sha") or item.base_sha,
            "head_sha": att.get("head_sha"),
            "timestamp_utc": now_utc(),
            "duration_s": _duration(att),
            "pr_url": pr_url,
            "summary_file": str(summary.relative_to(home.root)),
            "agent": agent,
        },
    )


def render_summary(item: Item, att: dict[str, Any]) -> str:
    lines = [f"# {item.id} attempt {att['n']}: {att.get('status')}", "", f"Task: {item.title}", ""]
    if att.get("failure_reason"):
        lines += [f"Failure: {att['failure_reason']}", "", str(att.get("detail", "")), ""]
    for key, label in (("diff_stat", "Change"), ("gate", "Gate"), ("review", "Review")):
        if att.get(key):
            lines += [f"## {label}", "", f"{att[key]}", ""]
    if att.get("final_message"):
        lines += [
            "## The agent's final message (its claim, not evidence)",
            "",
            str(att["final_message"]),
            "",
        ]
    return "\n".join(lines)
