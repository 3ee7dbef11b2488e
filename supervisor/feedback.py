"""What a pull request's reviews, review comments and checks ask of the next attempt.

Only allowed people's reviews and review comments count (see conversation.People); a stranger's
"changes requested" is logged and changes nothing. Failing checks on the pull request's head are
feedback too: the check's name and summary, never a command to run. The watermarks (the last
review and review comment read, the head whose checks were read) are returned, to be saved in the
same write as what is done about them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from supervisor import prompts
from supervisor.forge.base import Forge, Pull, find_marker
from supervisor.items import Item
from supervisor.trust import People

log = logging.getLogger("supervisor.feedback")


@dataclass
class Feedback:
    parts: list[str] = field(default_factory=list)  # for the worker's prompt, quoted
    what: list[str] = field(default_factory=list)  # in a few words, for the history
    threads: list[int] = field(default_factory=list)  # review comments to answer when addressed
    approved_by: str | None = None  # an allowed person approved the current head
    marks: dict[str, Any] = field(default_factory=dict)

    @property
    def text(self) -> str:
        return "\n\n".join(self.parts)


def collect(forge: Forge, people: People, item: Item, pull: Pull) -> Feedback:
    conv = item.conversation
    fb = Feedback()
    seen_reviews = int(conv.get("reviews_seen", 0))
    for r in sorted(forge.list_reviews(pull.number), key=lambda r: r.id):
        if r.id <= seen_reviews:
            continue
        fb.marks["reviews_seen"] = r.id
        standing = people.standing(r.author, r.author_association)
        if not people.allowed(r.author, r.author_association):
            log.warning(
                "%s: review %s by @%s (%s) ignored: not an allowed person",
                item.id,
                r.state,
                r.author,
                standing,
            )
            continue
        if r.state == "CHANGES_REQUESTED":
            fb.parts.append(
                "A review requesting changes. "
                + prompts.said(r.author, standing, r.body or "(no summary)", True)
            )
            fb.what.append(f"@{r.author} requested changes")
        elif r.state == "APPROVED" and (not r.commit_id or r.commit_id == item.head_sha):
            fb.approved_by = r.author
        elif r.state == "COMMENTED" and r.body.strip():
            fb.parts.append("A review comment. " + prompts.said(r.author, standing, r.body, True))
            fb.what.append(f"@{r.author} commented")
    seen_comments = int(conv.get("review_comments_seen", 0))
    me = forge.own_login()
    for c in sorted(forge.list_review_comments(pull.number), key=lambda c: c.id):
        if c.id <= seen_comments:
            continue
        fb.marks["review_comments_seen"] = c.id
        if c.author == me and find_marker(c.body):
            continue  # the supervisor's own reply in a thread
        standing = people.standing(c.author, c.author_association)
        if not people.allowed(c.author, c.author_association) or people.bot(c.author):
            log.warning("%s: review comment by @%s (%s) ignored", item.id, c.author, standing)
            continue
        where = f"`{c.path}`" + (f" line {c.line}" if c.line else "")
        fb.parts.append(f"On {where}: " + prompts.said(c.author, standing, c.body, True))
        fb.what.append(f"@{c.author} on {c.path}")
        thread = c.in_reply_to or c.id
        if thread not in fb.threads:
            fb.threads.append(thread)
    head = pull.head_sha
    if head and head == item.head_sha and conv.get("checks_seen") != head:
        failed = forge.failing_checks(head)
        if failed:
            fb.marks["checks_seen"] = head
            fb.parts.append(
                "Checks failed on the pull request's head (names and summaries as the forge "
                "reports them; find the cause in the code and the tests):\n\n"
                + prompts.quoted("\n".join(failed))
            )
            fb.what.append(f"{len(failed)} failing check(s)")
    return fb
