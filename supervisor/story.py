"""`supervisor show ITEM`: an item's whole story, from where it was found to where it is now."""

from __future__ import annotations

from typing import Any

from supervisor.items import Item, usage_words


def _agent(a: dict[str, Any]) -> str:
    return f"{a.get('name', '?')}{usage_words(a.get('tokens'), a.get('cost_usd'), 4)}"


def story(item: Item, issue_url: str = "", pull_url: str = "") -> str:
    lines = [f"{item.id}  [{item.kind}]  {item.state}", f"title: {item.title}"]
    if item.needs_person:
        lines.append(f"needs a person: {item.needs_person}")
    if item.issue is not None:
        lines.append(f"issue: #{item.issue}  {issue_url.format(n=item.issue)}".rstrip())
    if item.pull is not None:
        lines.append(f"pull request: #{item.pull}  {pull_url.format(n=item.pull)}".rstrip())
    if item.head_sha:
        lines.append(f"candidate: {item.head_sha[:12]} on base {str(item.base_sha)[:12]}")
    src = item.source
    if src.get("type") == "ci":
        lines.append(
            f"found in CI: {src.get('test') or '(package)'} in {src.get('package') or '?'}"
            f" ({src.get('failure_kind', '?')}), classified {item.kind}"
        )
        lines += [f"  because {r}" for r in src.get("reasons", [])]
    elif src.get("file"):
        lines.append(f"found in: {src['file']}")
    elif src.get("type"):
        lines.append(
            f"found in: {src['type']}" + (f" by @{src['author']}" if src.get("author") else "")
        )
    if item.occurrences:
        times = sorted(str(o.get("time") or "") for o in item.occurrences)
        first, last = times[0] or "?", times[-1] or "?"
        lines.append(f"occurrences: {len(item.occurrences)} (first {first}, last {last})")
        for o in item.occurrences[-5:]:
            where = o.get("url") or o.get("log", "")
            sha = f" at {str(o['sha'])[:12]}" if o.get("sha") else ""
            lines.append(f"  run {o.get('run', '?')}{sha}: {where}")
    before = item.reproduction.get("before")
    if before:
        lines.append(f"stress runs before a fix: {before.get('words') or before.get('error')}")
    conv = item.conversation
    if conv.get("analysis", {}).get("comment_id"):
        lines.append(f"analysis: comment {conv['analysis']['comment_id']} on the issue")
    if conv.get("approval"):
        a = conv["approval"]
        lines.append(f"approved by: @{a['by']} ({a['standing']}) with {a['how']}")
    if conv.get("replies"):
        lines.append(f"replies: {len(conv['replies'])}")
    if conv.get("rounds"):
        lines.append(f"review rounds: {conv['rounds']}")
    for a in item.attempts:
        lines += _attempt(a)
    totals = item.agent_totals()
    if totals["runs"]:
        used = usage_words(totals["tokens"], totals["cost_usd"], 4)
        lines.append(f"agents in all: {totals['runs']} run(s){used}")
    lines.append("history:")
    for h in item.history:
        lines.append(f"  {h['time']}  {h['from'] or '-'} -> {h['to']}  {h['reason']}")
    return "\n".join(lines)


def _attempt(a: dict[str, Any]) -> list[str]:
    why = f": {a['failure_reason']}: {a.get('detail', '')}" if a.get("failure_reason") else ""
    out = [f"attempt {a['n']}: {a.get('status')}{why}"]
    if a.get("agent"):
        out.append(f"  worker: {_agent(a['agent'])}")
    for level, gate in (a.get("gate") or {}).items():
        cmds = ", ".join(
            f"`{c['command']}` exit {c['exit_code']}" for c in gate.get("commands", [])
        )
        verdict = "passed" if gate.get("ok") else "failed"
        out.append(f"  {level} gate: {verdict}" + (f": {cmds}" if cmds else ""))
    if a.get("reproduction"):
        r = a["reproduction"]
        out.append(f"  stress runs after the fix: {r.get('words') or r.get('error')}")
    review = a.get("review") or {}
    if review.get("verdict"):
        score = f" (score {review['score']})" if review.get("score") is not None else ""
        out.append(
            f"  review: {review['verdict']}{score}: {review.get('summary') or review.get('by', '')}"
        )
    return out
