"""The fake GitHub's memory: users, repositories and everything that lives in them.

Plain dataclasses; the server holds one ``World`` and a lock, and every handler and test helper
reads or changes it under that lock.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ASSOCIATIONS = ("OWNER", "MEMBER", "COLLABORATOR")
# The repository role each association stands for (``role_name`` of the collaborator permission);
# anyone else reads a public repository and has no role on a private one.
ROLES = {"OWNER": "admin", "MEMBER": "maintain", "COLLABORATOR": "write"}
# GitHub's legacy ``permission``: maintain counts as write, triage as read.
LEGACY_PERMISSIONS = {
    "admin": "admin",
    "maintain": "write",
    "write": "write",
    "triage": "read",
    "read": "read",
    "none": "none",
}
REVIEW_STATES = ("APPROVED", "CHANGES_REQUESTED", "COMMENTED")
CONCLUSIONS = (
    "success",
    "failure",
    "neutral",
    "cancelled",
    "skipped",
    "timed_out",
    "action_required",
)


class Clock:
    """Wall-clock time that a test may move forward (``advance``) to make ``since`` testable."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        return time.time() + self.offset

    def stamp(self) -> datetime:
        """Now, to the second (GitHub's timestamps carry no fraction)."""
        return datetime.fromtimestamp(int(self.now()), UTC)

    def advance(self, seconds: float) -> None:
        self.offset += seconds


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 with a ``Z``, as GitHub writes times."""
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> datetime:
    """A GitHub ``since`` / ``created`` value: ``2024-01-02T03:04:05Z`` or a bare date."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass
class User:
    login: str
    id: int
    token: str
    scopes: tuple[str, ...]
    created_at: datetime


@dataclass
class Bucket:
    """One rate-limit resource (``core`` or ``search``) of one user."""

    limit: int
    reset: int
    used: int = 0

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)


@dataclass
class Label:
    id: int
    name: str
    color: str = "ededed"
    description: str | None = None


@dataclass
class Comment:
    id: int
    issue_number: int
    user: str
    body: str
    created_at: datetime
    updated_at: datetime


@dataclass
class Event:
    id: int
    event: str
    actor: str
    created_at: datetime
    label: str | None = None


@dataclass
class Review:
    id: int
    user: str
    state: str
    body: str
    commit_id: str
    submitted_at: datetime


@dataclass
class ReviewComment:
    id: int
    review_id: int | None
    user: str
    body: str
    path: str
    line: int
    commit_id: str
    created_at: datetime
    updated_at: datetime
    in_reply_to_id: int | None = None


@dataclass
class Pull:
    """What a pull request has beyond its issue."""

    head: str
    base: str
    head_sha: str
    base_sha: str
    draft: bool = False
    maintainer_can_modify: bool = False
    merged_at: datetime | None = None
    merged_by: str | None = None
    merge_commit_sha: str | None = None
    reviews: list[Review] = field(default_factory=list)
    review_comments: list[ReviewComment] = field(default_factory=list)


@dataclass
class Issue:
    """An issue, or a pull request (``pull`` set): they share one number sequence per repo."""

    number: int
    id: int
    title: str
    body: str | None
    user: str
    created_at: datetime
    updated_at: datetime
    state: str = "open"
    state_reason: str | None = None
    closed_at: datetime | None = None
    closed_by: str | None = None
    labels: list[str] = field(default_factory=list)
    comments: list[Comment] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    pull: Pull | None = None
    corrupt: set[str] = field(default_factory=set)


@dataclass
class CheckRun:
    id: int
    name: str
    head_sha: str
    status: str
    conclusion: str | None
    started_at: datetime
    completed_at: datetime | None


@dataclass
class Status:
    id: int
    context: str
    state: str
    description: str | None
    created_at: datetime


@dataclass
class Job:
    id: int
    run_id: int
    run_attempt: int
    name: str
    status: str
    conclusion: str | None
    started_at: datetime
    completed_at: datetime | None
    log: str


@dataclass
class Run:
    id: int
    workflow_id: int
    workflow_path: str
    name: str
    run_number: int
    event: str
    actor: str
    head_branch: str
    head_sha: str
    status: str
    conclusion: str | None
    created_at: datetime
    updated_at: datetime
    run_attempt: int = 1


@dataclass
class Repo:
    owner: str
    name: str
    id: int
    default_branch: str
    git_dir: Path | None
    collaborators: dict[str, str]
    private: bool
    created_at: datetime
    labels: dict[str, Label] = field(default_factory=dict)
    issues: dict[int, Issue] = field(default_factory=dict)
    checks: dict[str, list[CheckRun]] = field(default_factory=dict)
    statuses: dict[str, list[Status]] = field(default_factory=dict)
    workflows: dict[str, int] = field(default_factory=dict)
    runs: dict[int, Run] = field(default_factory=dict)
    jobs: dict[int, Job] = field(default_factory=dict)

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"

    def association(self, login: str) -> str:
        """``author_association`` of ``login`` here: OWNER, MEMBER, COLLABORATOR or NONE."""
        if login == self.owner:
            return "OWNER"
        return self.collaborators.get(login, "NONE")

    def role(self, login: str) -> str:
        """``login``'s role here: admin, maintain or write by association (``ROLES``), else read
        (a public repository) or none (a private one)."""
        return ROLES.get(self.association(login), "none" if self.private else "read")

    def next_number(self) -> int:
        return max(self.issues, default=0) + 1

    def label(self, name: str) -> Label | None:
        return self.labels.get(name.lower())

    def comment(self, comment_id: int) -> Comment | None:
        for issue in self.issues.values():
            for comment in issue.comments:
                if comment.id == comment_id:
                    return comment
        return None


@dataclass
class LogLink:
    """The short-lived URL GitHub redirects a job-log request to."""

    text: str
    expires: float


@dataclass
class World:
    """Everything the fake knows. Ids are one sequence for every kind of object."""

    clock: Clock = field(default_factory=Clock)
    users: dict[str, User] = field(default_factory=dict)
    repos: dict[str, Repo] = field(default_factory=dict)
    buckets: dict[tuple[str, str], Bucket] = field(default_factory=dict)
    log_links: dict[str, LogLink] = field(default_factory=dict)
    rate_limit: int = 5000
    search_rate_limit: int = 30
    last_id: int = 1000

    def new_id(self) -> int:
        self.last_id += 1
        return self.last_id

    def user_by_token(self, token: str) -> User | None:
        for user in self.users.values():
            if secrets.compare_digest(user.token, token):
                return user
        return None

    def ensure_user(self, login: str) -> User:
        """A known user, or one made on the spot (a person who has no token in this test)."""
        if login not in self.users:
            self.users[login] = User(
                login, self.new_id(), secrets.token_hex(20), (), self.clock.stamp()
            )
        return self.users[login]

    def find_user(self, login: str) -> str | None:
        """The login as the fake spells it (logins are case-insensitive), or None for no such user.

        A user exists once known to the fake: ``add_user``, a repository's owner, a person a test
        helper acted as, or anyone named among a repository's collaborators.
        """
        wanted = login.lower()
        for known in self.users:
            if known.lower() == wanted:
                return known
        for repo in self.repos.values():
            for known in (repo.owner, *repo.collaborators):
                if known.lower() == wanted:
                    return known
        return None

    def bucket(self, login: str, resource: str) -> Bucket:
        """The rate-limit bucket, renewed once its reset time has passed."""
        now = int(self.clock.now())
        key = (login, resource)
        bucket = self.buckets.get(key)
        if bucket is None or now >= bucket.reset:
            limit = self.search_rate_limit if resource == "search" else self.rate_limit
            window = 60 if resource == "search" else 3600
            bucket = self.buckets[key] = Bucket(limit, now + window)
        return bucket

    def repo(self, owner: str, name: str) -> Repo | None:
        return self.repos.get(f"{owner}/{name}".lower())
