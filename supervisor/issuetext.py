"""The supervisor's own text in an issue: one block between markers, rewritten in place."""

from __future__ import annotations

from supervisor.forge.base import marker
from supervisor.items import Item

STATE_WORDS = {
    "new": "found",
    "triaged": "tracked",
    "analyzed": "analysed",
    "awaiting_approval": "waiting for a maintainer's approval",
    "approved": "approved",
    "fixing": "a fix is being written",
    "verifying": "the fix is being verified",
    "reviewing": "the fix is being reviewed",
    "publishing": "the fix is being published",
    "pr_open": "a pull request is open",
    "changes_requested": "changes were requested",
    "merged": "fixed and merged",
    "closed_wontfix": "closed without a fix",
    "duplicate": "a duplicate",
    "ignored": "ignored",
    "failed": "the supervisor gave up: a person is needed",
}


def render_block(item: Item, how_to_approve: str = "") -> str:
    """What the supervisor says about the item (the marker that identifies the item included)."""
    lines = [f"**Supervisor status:** {STATE_WORDS.get(item.state, item.state)} (`{item.state}`)"]
    if item.state == "awaiting_approval" and how_to_approve:
        lines.append(f"**To start a fix:** {how_to_approve}.")
    approval = item.conversation.get("approval")
    if approval:
        lines.append(f"**Approved by:** @{approval['by']} ({approval['how']})")
    if item.needs_person:
        lines.append(f"**Needs a person:** {item.needs_person}")
    if item.attempts:
        failed = sum(1 for a in item.attempts if a.get("status") == "failed")
        lines.append(f"**Attempts:** {len(item.attempts)} ({failed} failed)")
        last = item.attempts[-1]
        if last.get("failure_reason"):
            lines.append(f"**Last failure:** {last['failure_reason']}")
    if item.pull is not None:
        lines.append(f"**Pull request:** #{item.pull}")
    if item.occurrences:
        lines.append(f"**Occurrences:** {len(item.occurrences)}")
    before = item.reproduction.get("before") or {}
    if before.get("words"):
        lines.append(f"**Stress runs before a fix:** {before['words']}")
    lines.append("")
    lines.append(
        f"<sub>Maintained by the supervisor; text outside this block is left alone."
        f"</sub> {marker(item.id)}"
    )
    return "\n".join(lines)
