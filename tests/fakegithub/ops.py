"""Changes to the world that both the HTTP handlers and the test helpers make.

One implementation per action (comment, label, close, merge), so that a person acting through a
test helper and the client acting through the API leave the same traces.
"""

from __future__ import annotations

from fakegithub import gitrepo
from fakegithub.routes import HttpError, not_implemented
from fakegithub.state import Comment, Event, Issue, Label, Repo, Review, ReviewComment, World

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


def reply_to_review_comment(
    world: World, issue: Issue, parent_id: int, login: str, body: str
) -> ReviewComment:
    """A reply in the thread of review comment ``parent_id`` of this pull request: the same path,
    line and commit, in a review of its own (state COMMENTED, no body), as GitHub records it.

    404 when the pull request has no such comment; 501 for a reply to a reply (GitHub documents
    replies to a thread's first comment only, and what it does otherwise is not modelled).
    """
    assert issue.pull is not None
    parent = next((c for c in issue.pull.review_comments if c.id == parent_id), None)
    if parent is None:
        raise HttpError(404, "Not Found")
    if parent.in_reply_to_id is not None:
        raise not_implemented("a reply to a reply")
    now = world.clock.stamp()
    review = Review(world.new_id(), login, "COMMENTED", "", parent.commit_id, now)
    comment = ReviewComment(
        world.new_id(),
        review.id,
        login,
        body,
        parent.path,
        parent.line,
        parent.commit_id,
        now,
        now,
        in_reply_to_id=parent.id,
    )
    issue.pull.reviews.append(review)
    issue.pull.review_comments.append(comment)
    issue.updated_at = now
    return comment


def delete_branch(world: World, repo: Repo, ref: str, actor: str) -> None:
    """Delete ``ref`` (``heads/<branch>`` or ``tags/<tag>``) from the bare repository, as
    ``DELETE /git/refs/{ref}`` does: 422 when it does not exist or is the default branch.

    Deleting a branch closes the open pull requests whose head it is, and those whose base it is,
    except that a base which was the head of a merged pull request moves to that pull request's
    base (GitHub's automatic retargeting).
    """
    if repo.git_dir is None:
        raise not_implemented(f"git refs of {repo.full_name}: add_repo(..., git_dir=...)")
    sha = gitrepo.ref_sha(repo.git_dir, f"refs/{ref}")
    if sha is None:
        raise HttpError(422, "Reference does not exist")
    if ref == f"heads/{repo.default_branch}":
        raise HttpError(422, "Cannot delete the default branch")
    if not ref.startswith(("heads/", "tags/")):
        raise not_implemented(f"deleting refs/{ref} (only heads/ and tags/)")
    gitrepo.delete_ref(repo.git_dir, f"refs/{ref}", sha)
    if not ref.startswith("heads/"):
        return
    branch = ref.removeprefix("heads/")
    merged_into = next(
        (
            i.pull.base
            for i in sorted(repo.issues.values(), key=lambda i: -i.number)
            if i.pull and i.pull.merged_at and i.pull.head == branch
        ),
        None,
    )
    for issue in repo.issues.values():
        pull = issue.pull
        if pull is None or issue.state != "open":
            continue
        if pull.base == branch and merged_into is not None:
            pull.base = merged_into
            issue.updated_at = world.clock.stamp()
        elif branch in (pull.head, pull.base):
            set_state(world, repo, issue, "closed", actor)


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
