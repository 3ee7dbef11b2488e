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
    head_sha: str = ""


@dataclass(frozen=True)
class LabelEvent:
    """A label added (or removed) on an issue, and by whom: who approves by label."""

    label: str
    actor: str
    action: str  # labeled | unlabeled
    created_at: str = ""


@dataclass(frozen=True)
class Review:
    """A pull request review: state APPROVED | CHANGES_REQUESTED | COMMENTED | DISMISSED."""

    id: int
    author: str
    state: str
    body: str
    commit_id: str = ""
    author_association: str = "NONE"
    submitted_at: str = ""


@dataclass(frozen=True)
class ReviewComment:
    """A comment on a line of a pull request's diff (a conversation when in_reply_to is set)."""

    id: int
    author: str
    body: str
    path: str = ""
    line: int | None = None
    in_reply_to: int | None = None
    author_association: str = "NONE"


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

    def update_pull_body(self, number: int, body: str) -> None: ...

    def mark_pull_merged(self, number: int, sha: str) -> None:
        """Record that the pull request's change landed as sha (the local forge merges by git)."""

    # -- the conversation ---------------------------------------------------------------------

    def update_comment(self, number: int, comment_id: int, body: str) -> None:
        """Replace the text of one of the supervisor's comments on issue or pull number."""

    def label_events(self, number: IssueNumber) -> list[LabelEvent]:
        """Who added and removed which label, oldest first."""

    def association(self, login: str) -> str:
        """The person's relation to the repository, as GitHub's author_association names it
        (OWNER, MEMBER, COLLABORATOR, ... NONE), for those whose acts carry none (labels)."""

    def own_login(self) -> str:
        """The login the supervisor writes as: its comments are never answered."""

    def list_reviews(self, number: int) -> list[Review]: ...

    def list_review_comments(self, number: int) -> list[ReviewComment]: ...

    def reply_review_comment(self, number: int, comment_id: int, body: str) -> None:
        """Answer in a review comment's conversation, unless a reply with body's marker is there."""

    def failing_checks(self, sha: str) -> list[str]:
        """The checks that failed on sha, a line each (name: summary); [] when none failed."""

    def delete_branch(self, branch: str) -> None:
        """Delete the pull request's head branch on the forge (a missing one is not an error)."""
