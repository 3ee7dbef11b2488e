"""Pull requests: create, list, read, update, merge; their reviews, review comments and replies."""

from __future__ import annotations

from pathlib import Path

from fakegithub import gitrepo, ops
from fakegithub.handlers_issues import since_arg, sort_issues
from fakegithub.routes import (
    Ctx,
    HttpError,
    Reply,
    invalid_field,
    missing_field,
    not_implemented,
    route,
)
from fakegithub.state import Issue, Pull, Repo

R = "/repos/{owner}/{repo}"


def branch_name(repo: Repo, spec: str) -> str:
    """``branch`` or ``owner:branch`` (the same repository only: the fake has no forks)."""
    owner, sep, branch = spec.rpartition(":")
    if sep and owner.lower() != repo.owner.lower():
        raise not_implemented("pull requests from forks")
    return branch


def require_git(repo: Repo) -> Path:
    if repo.git_dir is None:
        raise not_implemented(f"pull requests on {repo.full_name}: add_repo(..., git_dir=...)")
    return repo.git_dir


def pull_error(message: str) -> HttpError:
    return HttpError(
        422,
        "Validation Failed",
        [{"resource": "PullRequest", "code": "custom", "message": message}],
    )


@route("GET", f"{R}/pulls")
def list_pulls(ctx: Ctx, owner: str, repo: str) -> Reply:
    request = ctx.request
    found = ctx.repo(owner, repo)
    state = request.arg("state", "open")
    head, base = request.arg("head"), request.arg("base")
    head_branch = branch_name(found, head) if head else None
    pulls = [
        i
        for i in found.issues.values()
        if i.pull is not None
        and (state == "all" or i.state == state)
        and (head_branch is None or i.pull.head == head_branch)
        and (base is None or i.pull.base == base)
    ]
    sort = request.arg("sort", "created") or "created"
    if sort == "popularity" or sort == "long-running":
        raise not_implemented(f"sort={sort} for pull requests")
    ordered = sort_issues(pulls, sort, request.arg("direction", "") or "")
    return Reply(items=ordered, render=lambda i: ctx.render.pull(found, i, full=False))


@route("POST", f"{R}/pulls")
def create_pull(ctx: Ctx, owner: str, repo: str) -> Reply:
    found = ctx.repo(owner, repo)
    data = ctx.request.object()
    if "issue" in data or "head_repo" in data:
        raise not_implemented("'issue' and 'head_repo' when creating a pull request")
    for name in ("title", "head", "base"):
        if not data.get(name):
            raise missing_field("PullRequest", name)
        if not isinstance(data[name], str):
            raise invalid_field("PullRequest", name)
    ctx.require_push(found)
    git_dir = require_git(found)
    head = branch_name(found, data["head"])
    head_sha = gitrepo.branch_sha(git_dir, head)
    base_sha = gitrepo.branch_sha(git_dir, data["base"])
    if head_sha is None:
        raise invalid_field("PullRequest", "head")
    if base_sha is None:
        raise invalid_field("PullRequest", "base")
    for other in found.issues.values():
        pair = (other.pull.head, other.pull.base) if other.pull else None
        if other.state == "open" and pair == (head, data["base"]):
            raise pull_error(f"A pull request already exists for {found.owner}:{head}.")
    if gitrepo.is_ancestor(git_dir, head_sha, base_sha):
        raise pull_error(f"No commits between {data['base']} and {head}")
    issue = ops.create_issue(ctx.world, found, ctx.login, data["title"], data.get("body"), [])
    issue.pull = Pull(
        head,
        data["base"],
        head_sha,
        base_sha,
        draft=bool(data.get("draft", False)),
        maintainer_can_modify=bool(data.get("maintainer_can_modify", False)),
    )
    body = ctx.render.pull(found, issue)
    return Reply(201, body, headers={"Location": body["url"]})


@route("GET", f"{R}/pulls/{{pull_number}}")
def get_pull(ctx: Ctx, owner: str, repo: str, pull_number: str) -> Reply:
    found = ctx.repo(owner, repo)
    return Reply(200, ctx.render.pull(found, ctx.pull(found, pull_number)))


@route("PATCH", f"{R}/pulls/{{pull_number}}")
def update_pull(ctx: Ctx, owner: str, repo: str, pull_number: str) -> Reply:
    found = ctx.repo(owner, repo)
    issue = ctx.pull(found, pull_number)
    data = ctx.request.object()
    if issue.user != ctx.login:
        ctx.require_push(found)
    if "base" in data:
        raise not_implemented("changing the base of a pull request")
    for name in ("title", "body"):
        if name in data:
            if data[name] is not None and not isinstance(data[name], str):
                raise invalid_field("PullRequest", name)
            setattr(issue, name, data[name] if name == "body" else str(data[name]))
    if "maintainer_can_modify" in data:
        assert issue.pull is not None
        issue.pull.maintainer_can_modify = bool(data["maintainer_can_modify"])
    if "state" in data:
        if data["state"] not in ("open", "closed"):
            raise invalid_field("PullRequest", "state", data["state"])
        ops.set_state(ctx.world, found, issue, data["state"], ctx.login)
    issue.updated_at = ctx.world.clock.stamp()
    return Reply(200, ctx.render.pull(found, issue))


@route("PUT", f"{R}/pulls/{{pull_number}}/merge")
def merge_pull(ctx: Ctx, owner: str, repo: str, pull_number: str) -> Reply:
    found = ctx.repo(owner, repo)
    issue = ctx.pull(found, pull_number)
    ctx.require_push(found)
    require_git(found)
    data = ctx.request.object()
    method = data.get("merge_method", "merge")
    if method not in ("merge", "squash", "rebase"):
        raise invalid_field("PullRequest", "merge_method", method)
    sha = ops.merge_pull(
        ctx.world,
        found,
        issue,
        ctx.login,
        method,
        data.get("commit_title"),
        data.get("commit_message"),
        data.get("sha"),
    )
    return Reply(200, {"sha": sha, "merged": True, "message": "Pull Request successfully merged"})


@route("GET", f"{R}/pulls/{{pull_number}}/reviews")
def list_reviews(ctx: Ctx, owner: str, repo: str, pull_number: str) -> Reply:
    found = ctx.repo(owner, repo)
    issue: Issue = ctx.pull(found, pull_number)
    assert issue.pull is not None
    return Reply(
        items=list(issue.pull.reviews), render=lambda r: ctx.render.review(found, issue, r)
    )


@route("GET", f"{R}/pulls/{{pull_number}}/comments")
def list_review_comments(ctx: Ctx, owner: str, repo: str, pull_number: str) -> Reply:
    found = ctx.repo(owner, repo)
    issue = ctx.pull(found, pull_number)
    assert issue.pull is not None
    since = since_arg(ctx)
    comments = [c for c in issue.pull.review_comments if since is None or c.updated_at >= since]
    if ctx.request.arg("direction") == "desc":
        comments.reverse()
    return Reply(items=comments, render=lambda c: ctx.render.review_comment(found, issue, c))


@route("POST", f"{R}/pulls/{{pull_number}}/comments/{{comment_id}}/replies")
def reply_to_review_comment(
    ctx: Ctx, owner: str, repo: str, pull_number: str, comment_id: str
) -> Reply:
    """A reply in a review thread. Like an issue comment, it needs read access only (GitHub lets
    anyone who can see the pull request reply), not push access."""
    found = ctx.repo(owner, repo)
    issue = ctx.pull(found, pull_number)
    if not comment_id.isdigit():
        raise HttpError(404, "Not Found")
    body = ctx.request.object().get("body")
    if body is None or body == "":
        raise missing_field("PullRequestReviewComment", "body")
    if not isinstance(body, str):
        raise invalid_field("PullRequestReviewComment", "body")
    comment = ops.reply_to_review_comment(ctx.world, issue, int(comment_id), ctx.login, body)
    out = ctx.render.review_comment(found, issue, comment)
    return Reply(201, out, headers={"Location": out["url"]})
