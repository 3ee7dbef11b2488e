"""Changes to the world that both the HTTP handlers and the test helpers make.

One implementation per action (comment, label, close, merge), so that a person acting through a
test helper and the client acting through the API leave the same traces.
"""

from __future__ import annotations

from fakegithub import gitrepo
from fakegithub.routes import HttpError
from fakegithub.state import Comment, Event, Issue, Label, Repo, World

LABEL_COLORS = ("ededed", "d73a4a", "0075ca", "a2eeef", "7057ff", "008672", "e4e669")


def create_issue(
    world: World, repo: Repo, login: str, title: str, body: str | None, labels: list[str]
) -> Issue:
    now = world.clock.stamp()
    issue = Issue(repo.next_number(), world.new_id(), title, body, login, now, now)
    repo.issues[issue.number] = issue
    add_labels(world, repo, issue, labels, login, events=False)
    return issue


def ensure_label(world: World, repo: Repo, name: str) -> Label:
    """The label called ``name`` (any case), created as GitHub does when an issue gets it."""
    label = repo.label(name)
    if label is None:
        color = LABEL_COLORS[len(repo.labels) % len(LABEL_COLORS)]
        label = repo.labels[name.lower()] = Label(world.new_id(), name, color)
    return label


def add_labels(
    world: World, repo: Repo, issue: Issue, names: list[str], actor: str, events: bool = True
) -> None:
    """Add labels (creating unknown ones) and a ``labeled`` event per label that is new."""
    for name in names:
        label = ensure_label(world, repo, name)
        if label.name in issue.labels:
            continue
        issue.labels.append(label.name)
        now = world.clock.stamp()
        issue.updated_at = now
        if events:
            issue.events.append(Event(world.new_id(), "labeled", actor, now, label.name))


def set_labels(world: World, repo: Repo, issue: Issue, names: list[str], actor: str) -> None:
    """Replace the label set (``PATCH`` with ``labels``), with labeled / unlabeled events."""
    wanted = [ensure_label(world, repo, n).name for n in names]
    now = world.clock.stamp()
    for name in list(issue.labels):
        if name not in wanted:
            issue.labels.remove(name)
            issue.events.append(Event(world.new_id(), "unlabeled", actor, now, name))
            issue.updated_at = now
    add_labels(world, repo, issue, wanted, actor)


def remove_label(world: World, repo: Repo, issue: Issue, name: str, actor: str) -> None:
    label = repo.label(name)
    if label is None or label.name not in issue.labels:
        raise HttpError(404, "Label does not exist")
    issue.labels.remove(label.name)
    now = world.clock.stamp()
    issue.updated_at = now
    issue.events.append(Event(world.new_id(), "unlabeled", actor, now, label.name))


def add_comment(world: World, repo: Repo, issue: Issue, login: str, body: str) -> Comment:
    now = world.clock.stamp()
    comment = Comment(world.new_id(), issue.number, login, body, now, now)
    issue.comments.append(comment)
    issue.updated_at = now
    return comment


def set_state(
    world: World, repo: Repo, issue: Issue, state: str, actor: str, reason: str | None = None
) -> None:
    """Close or reopen an issue or pull request (a merged pull request stays closed)."""
    if state == issue.state:
        if reason is not None and state == "closed":
            issue.state_reason = reason
        return
    if state == "open" and issue.pull and issue.pull.merged_at:
        raise HttpError(422, "Validation Failed", [_custom("state", "merged pull request")])
    now = world.clock.stamp()
    issue.state = state
    issue.updated_at = now
    if state == "closed":
        issue.closed_at, issue.closed_by = now, actor
        issue.state_reason = None if issue.pull else (reason or "completed")
    else:
        issue.closed_at, issue.closed_by = None, None
        issue.state_reason = None if issue.pull else "reopened"


def merge_pull(
    world: World,
    repo: Repo,
    issue: Issue,
    actor: str,
    method: str = "merge",
    title: str | None = None,
    message: str | None = None,
    sha: str | None = None,
) -> str:
    """Merge a pull request for real in the bare repository; the new tip of the base branch."""
    pull = issue.pull
    if pull is None or repo.git_dir is None:
        raise HttpError(404, "Not Found")
    if pull.merged_at is not None or issue.state != "open":
        raise HttpError(405, "Pull Request is not mergeable")
    if pull.draft:
        raise HttpError(405, "Pull Request is still a draft")
    head = gitrepo.branch_sha(repo.git_dir, pull.head)
    if head is None:
        raise HttpError(405, "Pull Request is not mergeable")
    if sha is not None and sha != head:
        raise HttpError(409, "Head branch was modified. Review and try the merge again.")
    default_title = f"Merge pull request #{issue.number} from {repo.owner}/{pull.head}"
    if method == "squash":
        default_title = f"{issue.title} (#{issue.number})"
    text = (title or default_title) + (f"\n\n{message}" if message else f"\n\n{issue.title}")
    base_before = gitrepo.branch_sha(repo.git_dir, pull.base) or pull.base_sha
    try:
        new = gitrepo.merge(repo.git_dir, pull.base, head, method, text, actor)
    except gitrepo.MergeConflict:
        raise HttpError(405, "Pull Request is not mergeable") from None
    except gitrepo.NotFastForward:
        raise HttpError(405, "This branch can't be rebased") from None
    now = world.clock.stamp()
    pull.head_sha, pull.base_sha = head, base_before
    pull.merged_at, pull.merged_by, pull.merge_commit_sha = now, actor, new
    issue.state, issue.closed_at, issue.closed_by, issue.updated_at = "closed", now, actor, now
    return new


def _custom(field: str, message: str) -> dict[str, str]:
    return {"resource": "Issue", "field": field, "code": "invalid", "message": message}
