"""The forge interface. Implementations: local (files under state/forge/) and, later, GitHub.

Every write that could be repeated after a crash is made idempotent by a hidden marker in the text
(``<!-- supervisor:item=ID step=STEP -->``): before creating an issue or a comment the chain asks
the forge for one that carries the marker; before creating a pull request, for one with the same
head.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Protocol

from supervisor.ids import IssueNumber


def marker(item_id: str, step: str = "issue") -> str:
    return f"<!-- supervisor:item={item_id} step={step} -->"


_MARKER = re.compile(r"<!-- supervisor:item=[^>]*-->")
BLOCK_START = "<!-- supervisor:block:start -->"
BLOCK_END = "<!-- supervisor:block:end -->"


def find_marker(body: str) -> str:
    """The item marker in a text ('' when there is none)."""
    m = _MARKER.search(body)
    return m.group(0) if m else ""


def with_block(body: str, block: str) -> str:
    """body with the supervisor's block (between BLOCK_START and BLOCK_END) set to block.

    Only the text between the markers is the supervisor's; whatever people wrote outside it is
    kept as it is. A body without the markers gets the block appended.
    """
    new = f"{BLOCK_START}\n{block.strip()}\n{BLOCK_END}"
    start, end = body.find(BLOCK_START), body.find(BLOCK_END)
    if start == -1 or end == -1 or end < start:
        return f"{body.rstrip()}\n\n{new}\n" if body.strip() else f"{new}\n"
    return body[:start] + new + body[end + len(BLOCK_END) :]


@dataclass(frozen=True)
class Comment:
    id: int
    author: str
    body: str
    created_at: str
    author_association: str = "NONE"


@dataclass(frozen=True)
class Issue:
    number: IssueNumber
    title: str
    body: str
    state: str  # open | closed
    labels: tuple[str, ...] = ()
    url: str = ""
    author: str = ""


@dataclass(frozen=True)
class Pull:
    number: int
    title: str
    head: str
    base: str
    state: str  # open | closed | merged
    draft: bool = False
    merged_sha: str | None = None
    url: str = ""
    body: str = ""
    labels: tuple[str, ...] = field(default_factory=tuple)


class Forge(Protocol):
    name: str

    def find_issue(self, marker_text: str) -> Issue | None:
        """An issue (open or closed) whose body contains marker_text."""

    def create_issue(self, title: str, body: str, labels: list[str]) -> Issue: ...

    def get_issue(self, number: IssueNumber) -> Issue: ...

    def list_issues(self, label: str, state: str = "open") -> list[Issue]: ...

    def list_issues_if_changed(self, label: str) -> list[Issue] | None:
        """Open issues with label; None when the forge can tell that nothing changed."""

    def update_issue_body(self, number: IssueNumber, body: str) -> None: ...

    def comment(self, number: int, body: str) -> Comment:
        """Add a comment unless one containing the same marker line already exists."""

    def list_comments(self, number: int, since_id: int = 0) -> list[Comment]: ...

    def close_issue(self, number: IssueNumber, reason: str) -> None: ...

    def find_pull(self, head: str) -> Pull | None: ...

    def create_pull(self, title: str, body: str, head: str, base: str, draft: bool) -> Pull: ...

    def get_pull(self, number: int) -> Pull: ...

    def mark_pull_merged(self, number: int, sha: str) -> None:
        """Record that the pull request's change landed as sha (the local forge merges by git)."""
