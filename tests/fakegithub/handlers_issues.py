"""Issues, issue comments, labels, issue events and issue search."""

from __future__ import annotations

import re
from typing import Any

from fakegithub import ops
from fakegithub.routes import (
    Ctx,
    HttpError,
    Reply,
    invalid_field,
    missing_field,
    not_implemented,
    route,
)
from fakegithub.state import Issue, Repo, parse_iso

R = "/repos/{owner}/{repo}"
HEX6 = re.compile(r"^[0-9a-fA-F]{6}$")


def since_arg(ctx: Ctx) -> Any:
    text = ctx.request.arg("since")
    if text is None:
        return None
    try:
        return parse_iso(text)
    except ValueError:
        raise invalid_field("Issue", "since", text) from None


def sort_issues(issues: list[Issue], sort: str, direction: str) -> list[Issue]:
    keys = {
        "created": lambda i: (i.created_at, i.number),
        "updated": lambda i: (i.updated_at, i.number),
        "comments": lambda i: (len(i.comments), i.number),
    }
    if sort not in keys:
        raise invalid_field("Issue", "sort", sort)
    return sorted(issues, key=keys[sort], reverse=direction != "asc")


def label_names(value: Any) -> list[str]:
    """Label names from any of the shapes GitHub accepts (strings or ``{"name": ...}``)."""
    if isinstance(value, dict) and "labels" in value:
        value = value["labels"]
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise invalid_field("Label", "labels")
    names = []
    for entry in value:
        name = entry.get("name") if isinstance(entry, dict) else entry
        if not isinstance(name, str) or not name.strip():
            raise invalid_field("Label", "name")
        names.append(name)
    return names


def issue_reply(ctx: Ctx, repo: Repo, issue: Issue, status: int = 200) -> Reply:
    return Reply(status, ctx.render.issue(repo, issue))


# issues


@route("GET", f"{R}/issues")
def list_issues(ctx: Ctx, owner: str, repo: str) -> Reply:
    request = ctx.request
    request.refuse("milestone", "assignee", "mentioned", "type", "issue_field_values")
    found = ctx.repo(owner, repo)
    state = request.arg("state", "open")
    wanted = [n.strip().lower() for n in (request.arg("labels") or "").split(",") if n.strip()]
    creator, since = request.arg("creator"), since_arg(ctx)
    issues = [
        i
        for i in found.issues.values()
        if (state == "all" or i.state == state)
        and all(w in {n.lower() for n in i.labels} for w in wanted)
        and (creator is None or i.user == creator)
        and (since is None or i.updated_at >= since)
    ]
    sort, direction = request.arg("sort", "created") or "", request.arg("direction", "") or ""
    ordered = sort_issues(issues, sort, direction)
    return Reply(items=ordered, render=lambda i: ctx.render.issue(found, i))


@route("POST", f"{R}/issues")
def create_issue(ctx: Ctx, owner: str, repo: str) -> Reply:
    found = ctx.repo(owner, repo)
    data = ctx.request.object()
    for name in ("assignee", "assignees", "milestone", "type"):
        if data.get(name):
            raise not_implemented(f"{name!r} when creating an issue")
    title = data.get("title")
    if title is None or title == "":
        raise missing_field("Issue", "title")
    if not isinstance(title, str | int) or isinstance(title, bool):
        raise invalid_field("Issue", "title")
    body = data.get("body")
    if body is not None and not isinstance(body, str):
        raise invalid_field("Issue", "body")
    labels = label_names(data.get("labels", []))
    if found.association(ctx.login) == "NONE":
        labels = []  # GitHub silently drops labels set by people without push access
    issue = ops.create_issue(ctx.world, found, ctx.login, str(title), body, labels)
    reply = issue_reply(ctx, found, issue, 201)
    reply.headers["Location"] = reply.body["url"]
    return reply


@route("GET", f"{R}/issues/{{issue_number}}")
def get_issue(ctx: Ctx, owner: str, repo: str, issue_number: str) -> Reply:
    found = ctx.repo(owner, repo)
    return issue_reply(ctx, found, ctx.issue(found, issue_number))


@route("PATCH", f"{R}/issues/{{issue_number}}")
def update_issue(ctx: Ctx, owner: str, repo: str, issue_number: str) -> Reply:
    found = ctx.repo(owner, repo)
    issue = ctx.issue(found, issue_number)
    data = ctx.request.object()
    for name in ("assignee", "assignees", "milestone", "type"):
        if name in data:
            raise not_implemented(f"{name!r} when updating an issue")
    if issue.user != ctx.login:
        ctx.require_push(found)
    if "title" in data:
        if not isinstance(data["title"], str | int) or data["title"] == "":
            raise invalid_field("Issue", "title")
        issue.title = str(data["title"])
    if "body" in data:
        if data["body"] is not None and not isinstance(data["body"], str):
            raise invalid_field("Issue", "body")
        issue.body = data["body"]
    if "labels" in data:
        ops.set_labels(ctx.world, found, issue, label_names(data["labels"]), ctx.login)
    if "state" in data:
        if data["state"] not in ("open", "closed"):
            raise invalid_field("Issue", "state", data["state"])
        reason = data.get("state_reason")
        ops.set_state(ctx.world, found, issue, data["state"], ctx.login, reason)
    issue.updated_at = ctx.world.clock.stamp()
    return issue_reply(ctx, found, issue)


# comments


@route("GET", f"{R}/issues/{{issue_number}}/comments")
def list_comments(ctx: Ctx, owner: str, repo: str, issue_number: str) -> Reply:
    found = ctx.repo(owner, repo)
    issue = ctx.issue(found, issue_number)
    since = since_arg(ctx)
    comments = [c for c in issue.comments if since is None or c.updated_at >= since]
    return Reply(items=comments, render=lambda c: ctx.render.comment(found, c))


@route("POST", f"{R}/issues/{{issue_number}}/comments")
def create_comment(ctx: Ctx, owner: str, repo: str, issue_number: str) -> Reply:
    found = ctx.repo(owner, repo)
    issue = ctx.issue(found, issue_number)
    body = ctx.request.object().get("body")
    if body is None or body == "":
        raise missing_field("IssueComment", "body")
    if not isinstance(body, str):
        raise invalid_field("IssueComment", "body")
    comment = ops.add_comment(ctx.world, found, issue, ctx.login, body)
    reply = Reply(201, ctx.render.comment(found, comment))
    reply.headers["Location"] = reply.body["url"]
    return reply


@route("PATCH", f"{R}/issues/comments/{{comment_id}}")
def update_comment(ctx: Ctx, owner: str, repo: str, comment_id: str) -> Reply:
    found = ctx.repo(owner, repo)
    comment = found.comment(int(comment_id)) if comment_id.isdigit() else None
    if comment is None:
        raise HttpError(404, "Not Found")
    if comment.user != ctx.login:
        ctx.require_push(found)
    body = ctx.request.object().get("body")
    if body is None or body == "":
        raise missing_field("IssueComment", "body")
    if not isinstance(body, str):
        raise invalid_field("IssueComment", "body")
    comment.body = body
    comment.updated_at = ctx.world.clock.stamp()
    return Reply(200, ctx.render.comment(found, comment))


# labels and events


@route("POST", f"{R}/issues/{{issue_number}}/labels")
def add_labels(ctx: Ctx, owner: str, repo: str, issue_number: str) -> Reply:
    found = ctx.repo(owner, repo)
    issue = ctx.issue(found, issue_number)
    ctx.require_push(found)
    ops.add_labels(ctx.world, found, issue, label_names(ctx.request.json()), ctx.login)
    labels = [found.labels[n.lower()] for n in issue.labels]
    return Reply(200, [ctx.render.label(found, label) for label in labels])


@route("GET", f"{R}/issues/{{issue_number}}/events")
def list_events(ctx: Ctx, owner: str, repo: str, issue_number: str) -> Reply:
    found = ctx.repo(owner, repo)
    issue = ctx.issue(found, issue_number)
    return Reply(items=list(issue.events), render=lambda e: ctx.render.event(found, e))


@route("GET", f"{R}/labels/{{name}}")
def get_label(ctx: Ctx, owner: str, repo: str, name: str) -> Reply:
    found = ctx.repo(owner, repo)
    label = found.label(name)
    if label is None:
        raise HttpError(404, "Not Found")
    return Reply(200, ctx.render.label(found, label))


@route("POST", f"{R}/labels")
def create_label(ctx: Ctx, owner: str, repo: str) -> Reply:
    found = ctx.repo(owner, repo)
    ctx.require_push(found)
    data = ctx.request.object()
    name = data.get("name")
    if not name:
        raise missing_field("Label", "name")
    if not isinstance(name, str):
        raise invalid_field("Label", "name")
    color = str(data.get("color") or "ededed").lstrip("#")
    if not HEX6.match(color):
        raise invalid_field("Label", "color", color)
    if found.label(name) is not None:
        raise HttpError(
            422,
            "Validation Failed",
            [{"resource": "Label", "code": "already_exists", "field": "name"}],
        )
    label = ops.ensure_label(ctx.world, found, name)
    label.color, label.description = color.lower(), data.get("description")
    return Reply(201, ctx.render.label(found, label))


# search

TOKEN = re.compile(r'(-?)(\w+):("[^"]*"|\S+)|"([^"]*)"|(\S+)')
QUALIFIERS = ("repo", "is", "type", "state", "label", "author", "in", "head", "base")


def search_filter(ctx: Ctx, query: str) -> tuple[list[tuple[Repo, Issue]], list[str]]:
    """The (repository, issue) pairs ``query`` selects; the text terms it matched."""
    tests: list[Any] = []
    text: list[str] = []
    fields = {"title", "body", "comments"}
    repos = list(ctx.world.repos.values())
    for negate, key, value, phrase, word in TOKEN.findall(query):
        if key:
            value = value.strip('"')
            if negate or key not in QUALIFIERS:
                raise not_implemented(f"the search qualifier {negate}{key}: in {query!r}")
            if key == "repo":
                repos = [r for r in repos if r.full_name.lower() == value.lower()]
            elif key == "in":
                fields = set(value.split(","))
            else:
                tests.append(qualifier_test(key, value))
        else:
            text.append((phrase or word).lower())
    visible = [r for r in repos if not r.private or r.association(ctx.login) != "NONE"]
    found = []
    for repo in visible:
        for issue in repo.issues.values():
            haystack = []
            if "title" in fields:
                haystack.append(issue.title)
            if "body" in fields:
                haystack.append(issue.body or "")
            if "comments" in fields:
                haystack.extend(c.body for c in issue.comments)
            blob = "\n".join(haystack).lower()
            if all(t(issue) for t in tests) and all(term in blob for term in text):
                found.append((repo, issue))
    return found, text


def qualifier_test(key: str, value: str) -> Any:
    value_l = value.lower()
    if key in ("is", "type") and value_l in ("issue", "pr", "pull-request"):
        return lambda i: (i.pull is not None) == (value_l != "issue")
    if key in ("is", "state") and value_l in ("open", "closed"):
        return lambda i: i.state == value_l
    if key == "is" and value_l in ("merged", "unmerged"):
        return lambda i: (
            i.pull is not None and (i.pull.merged_at is not None) == (value_l == "merged")
        )
    if key == "label":
        return lambda i: value_l in {n.lower() for n in i.labels}
    if key == "author":
        return lambda i: i.user.lower() == value_l
    if key == "head":
        return lambda i: i.pull is not None and i.pull.head == value
    if key == "base":
        return lambda i: i.pull is not None and i.pull.base == value
    raise not_implemented(f"the search qualifier {key}:{value}")


@route("GET", "/search/issues")
def search_issues(ctx: Ctx) -> Reply:
    ctx.request.refuse("search_type", "advanced_search")
    query = ctx.request.arg("q")
    if not query:
        raise missing_field("Search", "q")
    found, _ = search_filter(ctx, query)
    sort = ctx.request.arg("sort") or "created"
    order = ctx.request.arg("order", "desc") or "desc"
    by_issue = {id(issue): repo for repo, issue in found}
    issues = sort_issues([issue for _, issue in found], sort, order)
    return Reply(
        items=issues,
        render=lambda i: ctx.render.search_item(by_issue[id(i)], i),
        envelope="items",
        extra={"incomplete_results": False, "search_type": "lexical"},
    )
