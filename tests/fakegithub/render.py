"""JSON for users, repositories, labels, issues, comments and events, shaped as GitHub sends them.

Every object carries the fields GitHub's OpenAPI description marks required (the contract checker
holds the fake to that); API URLs point at the fake itself, ``html_url`` at github.com.
"""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import quote

from fakegithub.state import LEGACY_PERMISSIONS, Comment, Event, Issue, Label, Repo, World, iso

HTML = "https://github.com"
Json = dict[str, Any]


def node_id(kind: str, number: int) -> str:
    """A node id in GitHub's legacy format (base64 of ``0<len>:<Kind><id>``)."""
    return base64.b64encode(f"0{len(kind)}:{kind}{number}".encode()).decode()


def permissions(role: str) -> Json:
    """The ``permissions`` object of a repository role (admin, maintain, write, triage, read)."""
    order = ("none", "read", "triage", "write", "maintain", "admin")
    rank = order.index(role)
    return {
        "admin": rank >= order.index("admin"),
        "maintain": rank >= order.index("maintain"),
        "push": rank >= order.index("write"),
        "triage": rank >= order.index("triage"),
        "pull": rank >= order.index("read"),
    }


def reactions(url: str) -> Json:
    counts = ("+1", "-1", "laugh", "confused", "heart", "hooray", "eyes", "rocket")
    return {"url": f"{url}/reactions", "total_count": 0, **dict.fromkeys(counts, 0)}


class Render:
    """Turns the world's objects into response bodies, with URLs under ``api``."""

    def __init__(self, api: str, world: World) -> None:
        self.api = api
        self.world = world

    # users

    def user(self, login: str) -> Json:
        user = self.world.ensure_user(login)
        url = f"{self.api}/users/{login}"
        return {
            "login": login,
            "id": user.id,
            "node_id": node_id("User", user.id),
            "avatar_url": f"https://avatars.githubusercontent.com/u/{user.id}?v=4",
            "gravatar_id": "",
            "url": url,
            "html_url": f"{HTML}/{login}",
            "followers_url": f"{url}/followers",
            "following_url": f"{url}/following{{/other_user}}",
            "gists_url": f"{url}/gists{{/gist_id}}",
            "starred_url": f"{url}/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"{url}/subscriptions",
            "organizations_url": f"{url}/orgs",
            "repos_url": f"{url}/repos",
            "events_url": f"{url}/events{{/privacy}}",
            "received_events_url": f"{url}/received_events",
            "type": "Bot" if login.endswith("[bot]") else "User",
            "user_view_type": "public",
            "site_admin": False,
        }

    def private_user(self, login: str) -> Json:
        """``GET /user``: the authenticated user's own view of themselves."""
        user = self.world.ensure_user(login)
        owned = [r for r in self.world.repos.values() if r.owner == login]
        return {
            **self.user(login),
            "user_view_type": "private",
            "name": login,
            "company": None,
            "blog": "",
            "location": None,
            "email": None,
            "hireable": None,
            "bio": None,
            "twitter_username": None,
            "notification_email": None,
            "public_repos": sum(1 for r in owned if not r.private),
            "public_gists": 0,
            "followers": 0,
            "following": 0,
            "created_at": iso(user.created_at),
            "updated_at": iso(user.created_at),
            "private_gists": 0,
            "total_private_repos": sum(1 for r in owned if r.private),
            "owned_private_repos": sum(1 for r in owned if r.private),
            "disk_usage": 0,
            "collaborators": 0,
            "two_factor_authentication": True,
            "plan": {
                "name": "free",
                "space": 976562499,
                "private_repos": 10000,
                "collaborators": 0,
            },
        }

    # repositories

    def repo(self, repo: Repo, viewer: str | None = None) -> Json:
        """A repository: the fields of ``full-repository``, ``repository`` and ``minimal-...``."""
        url = f"{self.api}/repos/{repo.full_name}"
        html = f"{HTML}/{repo.full_name}"
        open_count = sum(1 for i in repo.issues.values() if i.state == "open")
        clone = str(repo.git_dir) if repo.git_dir else f"{html}.git"
        templates = {
            "archive_url": "/{archive_format}{/ref}",
            "assignees_url": "/assignees{/user}",
            "blobs_url": "/git/blobs{/sha}",
            "branches_url": "/branches{/branch}",
            "collaborators_url": "/collaborators{/collaborator}",
            "comments_url": "/comments{/number}",
            "commits_url": "/commits{/sha}",
            "compare_url": "/compare/{base}...{head}",
            "contents_url": "/contents/{+path}",
            "contributors_url": "/contributors",
            "deployments_url": "/deployments",
            "downloads_url": "/downloads",
            "events_url": "/events",
            "forks_url": "/forks",
            "git_commits_url": "/git/commits{/sha}",
            "git_refs_url": "/git/refs{/sha}",
            "git_tags_url": "/git/tags{/sha}",
            "hooks_url": "/hooks",
            "issue_comment_url": "/issues/comments{/number}",
            "issue_events_url": "/issues/events{/number}",
            "issues_url": "/issues{/number}",
            "keys_url": "/keys{/key_id}",
            "labels_url": "/labels{/name}",
            "languages_url": "/languages",
            "merges_url": "/merges",
            "milestones_url": "/milestones{/number}",
            "notifications_url": "/notifications{?since,all,participating}",
            "pulls_url": "/pulls{/number}",
            "releases_url": "/releases{/id}",
            "stargazers_url": "/stargazers",
            "statuses_url": "/statuses/{sha}",
            "subscribers_url": "/subscribers",
            "subscription_url": "/subscription",
            "tags_url": "/tags",
            "teams_url": "/teams",
            "trees_url": "/git/trees{/sha}",
        }
        body: Json = {
            "id": repo.id,
            "node_id": node_id("Repository", repo.id),
            "name": repo.name,
            "full_name": repo.full_name,
            "owner": self.user(repo.owner),
            "private": repo.private,
            "visibility": "private" if repo.private else "public",
            "html_url": html,
            "description": None,
            "fork": False,
            "url": url,
            **{key: url + suffix for key, suffix in templates.items()},
            "clone_url": clone,
            "git_url": clone,
            "ssh_url": clone,
            "svn_url": html,
            "mirror_url": None,
            "homepage": None,
            "language": None,
            "forks": 0,
            "forks_count": 0,
            "stargazers_count": 0,
            "watchers": 0,
            "watchers_count": 0,
            "size": 0,
            "default_branch": repo.default_branch,
            "open_issues": open_count,
            "open_issues_count": open_count,
            "is_template": False,
            "topics": [],
            "has_issues": True,
            "has_projects": False,
            "has_wiki": False,
            "has_pages": False,
            "has_downloads": False,
            "has_discussions": False,
            "archived": False,
            "disabled": False,
            "license": None,
            "pushed_at": iso(repo.created_at),
            "created_at": iso(repo.created_at),
            "updated_at": iso(repo.created_at),
            "allow_forking": True,
            "web_commit_signoff_required": False,
            "network_count": 0,
            "subscribers_count": 0,
        }
        if viewer is not None:
            body["permissions"] = permissions(repo.role(viewer))
        return body

    def collaborator_permission(self, repo: Repo, login: str) -> Json:
        """``repository-collaborator-permission``: the legacy permission, the role, the user."""
        role = repo.role(login)
        return {
            "permission": LEGACY_PERMISSIONS[role],
            "role_name": role,
            "user": {**self.user(login), "permissions": permissions(role), "role_name": role},
        }

    # labels, issues, comments, events

    def label(self, repo: Repo, label: Label) -> Json:
        return {
            "id": label.id,
            "node_id": node_id("Label", label.id),
            "url": f"{self.api}/repos/{repo.full_name}/labels/{quote(label.name, safe='')}",
            "name": label.name,
            "description": label.description,
            "color": label.color,
            "default": False,
        }

    def issue(self, repo: Repo, issue: Issue) -> Json:
        """An issue as the issues endpoints show it (a pull request carries ``pull_request``)."""
        url = f"{self.api}/repos/{repo.full_name}/issues/{issue.number}"
        kind = "pull" if issue.pull else "issues"
        html = f"{HTML}/{repo.full_name}/{kind}/{issue.number}"
        labels = [self.label(repo, label) for n in issue.labels if (label := repo.label(n))]
        body: Json = {
            "id": issue.id,
            "node_id": node_id("PullRequest" if issue.pull else "Issue", issue.id),
            "url": url,
            "repository_url": f"{self.api}/repos/{repo.full_name}",
            "labels_url": f"{url}/labels{{/name}}",
            "comments_url": f"{url}/comments",
            "events_url": f"{url}/events",
            "html_url": html,
            "timeline_url": f"{url}/timeline",
            "number": issue.number,
            "state": issue.state,
            "state_reason": issue.state_reason,
            "title": issue.title,
            "body": issue.body,
            "user": self.user(issue.user),
            "labels": labels,
            "assignee": None,
            "assignees": [],
            "milestone": None,
            "locked": False,
            "active_lock_reason": None,
            "comments": len(issue.comments),
            "created_at": iso(issue.created_at),
            "updated_at": iso(issue.updated_at),
            "closed_at": iso(issue.closed_at),
            "closed_by": self.user(issue.closed_by) if issue.closed_by else None,
            "author_association": repo.association(issue.user),
            "performed_via_github_app": None,
            "reactions": reactions(url),
        }
        if issue.pull:
            pulls = f"{self.api}/repos/{repo.full_name}/pulls/{issue.number}"
            body["draft"] = issue.pull.draft
            body["pull_request"] = {
                "url": pulls,
                "html_url": html,
                "diff_url": f"{html}.diff",
                "patch_url": f"{html}.patch",
                "merged_at": iso(issue.pull.merged_at),
            }
        for field in issue.corrupt:
            body.pop(field, None)
        return body

    def comment(self, repo: Repo, comment: Comment) -> Json:
        url = f"{self.api}/repos/{repo.full_name}/issues/comments/{comment.id}"
        issue = repo.issues[comment.issue_number]
        kind = "pull" if issue.pull else "issues"
        html = f"{HTML}/{repo.full_name}/{kind}/{issue.number}"
        return {
            "id": comment.id,
            "node_id": node_id("IssueComment", comment.id),
            "url": url,
            "html_url": f"{html}#issuecomment-{comment.id}",
            "body": comment.body,
            "user": self.user(comment.user),
            "created_at": iso(comment.created_at),
            "updated_at": iso(comment.updated_at),
            "issue_url": f"{self.api}/repos/{repo.full_name}/issues/{issue.number}",
            "author_association": repo.association(comment.user),
            "performed_via_github_app": None,
            "reactions": reactions(url),
        }

    def event(self, repo: Repo, event: Event) -> Json:
        body: Json = {
            "id": event.id,
            "node_id": node_id("LabeledEvent", event.id),
            "url": f"{self.api}/repos/{repo.full_name}/issues/events/{event.id}",
            "actor": self.user(event.actor),
            "event": event.event,
            "commit_id": None,
            "commit_url": None,
            "created_at": iso(event.created_at),
            "performed_via_github_app": None,
        }
        if event.label is not None:
            label = repo.label(event.label)
            body["label"] = {"name": event.label, "color": label.color if label else "ededed"}
        return body

    def search_item(self, repo: Repo, issue: Issue) -> Json:
        body = {**self.issue(repo, issue), "score": 1.0}
        if body["body"] is None:
            del body["body"]  # not nullable in issue-search-result-item (and optional)
        return body

    def rate_limit(self, login: str) -> Json:
        def one(resource: str) -> Json:
            bucket = self.world.bucket(login, resource)
            return {
                "limit": bucket.limit,
                "used": bucket.used,
                "remaining": bucket.remaining,
                "reset": bucket.reset,
            }

        core = one("core")
        return {"resources": {"core": core, "search": one("search")}, "rate": core}
