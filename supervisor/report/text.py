"""`supervisor stats`: the period's figures as text, what needs a person first."""

from __future__ import annotations

from typing import Any

from supervisor.items import usage_words


def render(s: dict[str, Any]) -> str:
    p = s["period"]
    lines = [f"period: {p['since'] or 'the beginning'} to {p['until']} ({p['by']})"]
    if s["needs_person"]:
        lines.append(f"needs a person ({len(s['needs_person'])}):")
        for n in s["needs_person"]:
            where = n.get("pull") or n.get("issue") or ""
            lines.append(f"  {n['item']}  {n['title'][:60]}  {where}")
            lines.append(f"      {n['why'][:200]}")
    o = s["outcomes"]
    lines.append(
        f"items: {s['items']['active']} active of {s['items']['total']}; "
        + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in o.items() if v)
        if any(o.values())
        else f"items: {s['items']['active']} active of {s['items']['total']}; nothing happened"
    )
    for f in s["failed"]:
        lines.append(f"  failed {f['item']}: {f['why'][:200]}")
    if s["pull_requests"]:
        lines.append("pull requests:")
        for pr in s["pull_requests"]:
            lines.append(f"  #{pr['number']} {pr['state']}  {pr['item']}  {pr.get('pull', '')}")
    a = s["attempts"]
    if a["total"]:
        why = ", ".join(f"{k} {v}" for k, v in a["failure_reasons"].items())
        lines.append(
            f"attempts: {a['total']} ({a['succeeded']} succeeded, {a['failed']} failed"
            + (f": {why}" if why else "")
            + ")"
        )
    if s["time_per_step_s"]:
        lines.append(
            "time per step: "
            + ", ".join(f"{k} {_duration(v)}" for k, v in s["time_per_step_s"].items())
        )
    for g in s["agents"]:
        lines.append(
            f"agent {g['agent']} ({g['role']}): {g['runs']} run(s)"
            + usage_words(g["tokens"], g["cost_usd"])
        )
    for f in s["flaky"]:
        before = (f["before"] or {}).get("words") or "not measured"
        after = (f["after"] or {}).get("words") or "no fix verified yet"
        lines.append(f"flaky {f['test']} ({f['state']}): before: {before}; after: {after}")
    return "\n".join(lines)


def _duration(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.1f}h"
    if seconds >= 60:
        return f"{seconds / 60:.0f}m"
    return f"{seconds:.0f}s"
