"""The GitHub forge: the Forge interface over the REST client.

Idempotence: every issue, comment and pull request the supervisor writes carries a hidden marker
(or, for a pull request, its head branch). A create that may or may not have been applied (a 5xx
or a timeout on the POST) is never blindly repeated: the forge looks for what it would have
created, and only creates it when it is not there. Issues are found by listing the supervisor's
own label (strongly consistent), not through the search API, whose index lags behind writes.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from typing import Any, TypeVar

from supervisor.forge.base import (
    Comment,
    Issue,
    LabelEvent,
    Pull,
    Review,
    ReviewComment,
    find_marker,
)
from supervisor.github.client import GitHubClient, GitHubError, MaybeApplied
from supervisor.ids import IssueNumber

log = logging.getLogger("supervisor.github")

OWN_LABEL = "supervisor"  # on every issue the supervisor opens
LABEL_COLOR = "5319e7"
CREATE_TRIES = 4
_ITEM = re.compile(r"supervisor:item=(\S+)")
T = TypeVar("T")


class GitHubForge:
    name = "github"

    def __init__(
        self,
        client: GitHubClient,
        owner: str,
        repo: str,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.owner, self.repo = owner, repo
        self.base = f"/repos/{owner}/{repo}"
        self.sleep = sleep
        self._labels_known: set[str] = set()
        self._associations: dict[str, str] = {}
        self._login: str | None = None

    # -- the repository -----------------------------------------------------------------------

    def repository(self, cached: dict[str, Any] | None = None) -> dict[str, Any]:
        """The repository (clone_url, default_branch, permissions). With cached (what an earlier
        call returned), a conditional request: a 304 costs no rate limit and returns cached."""
        if cached and cached.get("full_name", "").lower() == f"{self.owner}/{self.repo}".lower():
            reply = self.client.request("GET", self.base, etag_key=f"repo:{self.owner}/{self.repo}")
            if reply.not_modified:
                return cached
            return dict(reply.data)
        reply = self.client.request(
            "GET", self.base, etag_key=f"repo:{self.owner}/{self.repo}", force=True
        )
        return dict(reply.data)

    # -- creating exactly once ----------------------------------------------------------------

    def _create_once(self, find: Callable[[], T | None], create: Callable[[], T]) -> T:
        """Create unless it exists; after an ambiguous failure look again before retrying."""
        for attempt in range(1, CREATE_TRIES + 1):
            try:
                return create()
            except MaybeApplied as e:
                log.warning("%s; looking whether it was applied before trying again", e)
                self.sleep(min(30.0, self.client.retry.backoff_s * 2 ** (attempt - 1)))
                found = find()
                if found is not None:
                    return found
                if attempt == CREATE_TRIES:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    # -- labels -------------------------------------------------------------------------------

    def ensure_label(self, name: str) -> None:
        if name in self._labels_known:
            return
        from urllib.parse import quote

        if (
            self.client.request(
                "GET", f"{self.base}/labels/{quote(name, safe='')}", allow_404=True
            ).status
            == 404
        ):
            self._create_once(
                lambda: self.client.get(
                    f"{self.base}/labels/{quote(name, safe='')}", allow_404=True
                ),
                lambda: (
                    self.client.request(
                        "POST", f"{self.base}/labels", json={"name": name, "color": LABEL_COLOR}
                    ).data
                ),
            )
        self._labels_known.add(name)

    def add_labels(self, number: int, labels: list[str]) -> None:
        for name in labels:
            self.ensure_label(name)
        self.client.request("POST", f"{self.base}/issues/{number}/labels", json={"labels": labels})

    # -- issues -------------------------------------------------------------------------------

    def _issue(self, d: dict[str, Any]) -> Issue:
        return Issue(
            number=IssueNumber(int(d["number"])),
            title=str(d.get("title") or ""),
            body=str(d.get("body") or ""),
            state=str(d["state"]),
            labels=tuple(str(lb["name"]) for lb in d.get("labels", [])),
            url=str(d.get("html_url", "")),
            author=str((d.get("user") or {}).get("login", "")),
        )

    def find_issue(self, marker_text: str) -> Issue | None:
        """The issue whose body has the marker: among the supervisor's own label first (a
        consistent listing), then through search, in case a person removed the label."""
        pages = self.client.paginate(f"{self.base}/issues", {"labels": OWN_LABEL, "state": "all"})
        for d in pages or []:
            if "pull_request" not in d and marker_text in (d.get("body") or ""):
                return self._issue(d)
        item = _ITEM.search(marker_text)
        if item is None:
            return None
        q = f'"{item.group(1)}" repo:{self.owner}/{self.repo} is:issue in:body'
        found = self.client.get("/search/issues", {"q": q})
        for d in found.get("items", []):
            if marker_text in (d.get("body") or ""):
                return self.get_issue(IssueNumber(int(d["number"])))
        return None

    def create_issue(self, title: str, body: str, labels: list[str]) -> Issue:
        labels = sorted({OWN_LABEL, *labels})
        for name in labels:
            self.ensure_label(name)
        mark = find_marker(body)
        return self._create_once(
            lambda: self.find_issue(mark) if mark else None,
            lambda: self._issue(
                self.client.request(
                    "POST",
                    f"{self.base}/issues",
                    json={"title": title, "body": body, "labels": labels},
                ).data
            ),
        )

    def list_issues_if_changed(self, label: str) -> list[Issue] | None:
        """The open issues with label, or None when nothing changed since the last call (a
        conditional request answered 304, which costs no rate limit)."""
        pages = self.client.paginate(
            f"{self.base}/issues",
            {"labels": label, "state": "open"},
            etag_key=f"issues:{self.owner}/{self.repo}:{label}",
        )
        if pages is None:
            return None
        return [self._issue(d) for d in pages if "pull_request" not in d]

    def reopen_issue(self, number: IssueNumber) -> None:
        self.client.request("PATCH", f"{self.base}/issues/{number}", json={"state": "open"})

    def get_issue(self, number: IssueNumber) -> Issue:
        return self._issue(self.client.get(f"{self.base}/issues/{number}"))

    def list_issues(self, label: str, state: str = "open") -> list[Issue]:
        pages = self.client.paginate(f"{self.base}/issues", {"labels": label, "state": state})
        return [self._issue(d) for d in pages or [] if "pull_request" not in d]

    def update_issue_body(self, number: IssueNumber, body: str) -> None:
        self.client.request("PATCH", f"{self.base}/issues/{number}", json={"body": body})

    def close_issue(self, number: IssueNumber, reason: str) -> None:
        if self.get_issue(number).state == "closed":
            return
        state_reason = "completed" if reason == "merged" else "not_planned"
        self.client.request(
            "PATCH",
            f"{self.base}/issues/{number}",
            json={"state": "closed", "state_reason": state_reason},
        )

    # -- comments -----------------------------------------------------------------------------

    def list_comments(self, number: int, since_id: int = 0) -> list[Comment]:
        pages = self.client.paginate(f"{self.base}/issues/{number}/comments")
        return [
            Comment(
                id=int(c["id"]),
                author=str((c.get("user") or {}).get("login", "")),
                body=str(c.get("body") or ""),
                created_at=str(c.get("created_at", "")),
                author_association=str(c.get("author_association", "NONE")),
            )
            for c in pages or []
            if int(c["id"]) > since_id
        ]

    def comment(self, number: int, body: str) -> Comment:
        mark = find_marker(body)

        def find() -> Comment | None:
            if not mark:
                return None
            me = self.own_login()  # a marker pasted by someone else must not silence us
            return next(
                (c for c in self.list_comments(number) if mark in c.body and c.author == me), None
            )

        existing = find()
        if existing is not None:
            return existing

        def create() -> Comment:
            c = self.client.request(
                "POST", f"{self.base}/issues/{number}/comments", json={"body": body}
            ).data
            return Comment(
                int(c["id"]),
                str(c["user"]["login"]),
                str(c["body"]),
                str(c["created_at"]),
                str(c.get("author_association", "NONE")),
            )

        return self._create_once(find, create)

    # -- pull requests ------------------------------------------------------------------------

    def _pull(self, d: dict[str, Any]) -> Pull:
        state = "merged" if d.get("merged_at") else str(d["state"])
        return Pull(
            number=int(d["number"]),
            title=str(d.get("title") or ""),
            head=str(d["head"]["ref"]),
            base=str(d["base"]["ref"]),
            state=state,
            draft=bool(d.get("draft")),
            merged_sha=d.get("merge_commit_sha") if d.get("merged_at") else None,
            url=str(d.get("html_url", "")),
            body=str(d.get("body") or ""),
            head_sha=str(d["head"].get("sha") or ""),
        )

    def find_pull(self, head: str) -> Pull | None:
        pages = self.client.paginate(
            f"{self.base}/pulls", {"head": f"{self.owner}:{head}", "state": "all"}
        )
        found = [self._pull(d) for d in pages or [] if d["head"]["ref"] == head]
        return max(found, key=lambda p: p.number) if found else None

    def create_pull(self, title: str, body: str, head: str, base: str, draft: bool) -> Pull:
        def find() -> Pull | None:
            pull = self.find_pull(head)
            return pull if pull is not None and pull.state == "open" else None

        existing = find()  # GitHub allows one open pull request per head branch
        if existing is not None:
            return existing
        return self._create_once(
            find,
            lambda: self._pull(
                self.client.request(
                    "POST",
                    f"{self.base}/pulls",
                    json={"title": title, "body": body, "head": head, "base": base, "draft": draft},
                ).data
            ),
        )

    def get_pull(self, number: int) -> Pull:
        return self._pull(self.client.get(f"{self.base}/pulls/{number}"))

    def update_pull_body(self, number: int, body: str) -> None:
        self.client.request("PATCH", f"{self.base}/pulls/{number}", json={"body": body})

    def mark_ready(self, number: int) -> None:
        """Take a draft pull request out of draft (GitHub offers this only through GraphQL)."""
        node = self.client.get(f"{self.base}/pulls/{number}")["node_id"]
        reply = self.client.request(
            "POST",
            self.client.graphql_url,
            json={
                "query": "mutation($id: ID!) { markPullRequestReadyForReview(input: "
                "{pullRequestId: $id}) { pullRequest { number isDraft } } }",
                "variables": {"id": node},
            },
        ).data
        if reply.get("errors"):
            raise GitHubError(
                f"GitHub could not mark pull request #{number} ready: "
                f"{reply['errors'][0].get('message')}"
            )

    def mark_pull_merged(self, number: int, sha: str) -> None:
        """On GitHub a person (or merge_pull) merges; there is nothing to record."""

    def merge_pull(self, number: int, method: str = "squash", sha: str | None = None) -> None:
        body: dict[str, Any] = {"merge_method": method}
        if sha:
            body["sha"] = sha  # GitHub refuses if the head moved: never merge unverified code
        self.client.request("PUT", f"{self.base}/pulls/{number}/merge", json=body)

    def list_reviews(self, number: int) -> list[Review]:
        return [
            Review(
                id=int(r["id"]),
                author=str((r.get("user") or {}).get("login", "")),
                state=str(r.get("state", "")),
                body=str(r.get("body") or ""),
                commit_id=str(r.get("commit_id") or ""),
                author_association=str(r.get("author_association", "NONE")),
                submitted_at=str(r.get("submitted_at") or ""),
            )
            for r in self.client.paginate(f"{self.base}/pulls/{number}/reviews") or []
        ]

    def list_review_comments(self, number: int) -> list[ReviewComment]:
        return [
            ReviewComment(
                id=int(c["id"]),
                author=str((c.get("user") or {}).get("login", "")),
                body=str(c.get("body") or ""),
                path=str(c.get("path") or ""),
                line=c.get("line") if isinstance(c.get("line"), int) else None,
                in_reply_to=c.get("in_reply_to_id"),
                author_association=str(c.get("author_association", "NONE")),
            )
            for c in self.client.paginate(f"{self.base}/pulls/{number}/comments") or []
        ]

    def reply_review_comment(self, number: int, comment_id: int, body: str) -> None:
        mark = find_marker(body)
        me = self.own_login()

        def find() -> bool | None:
            for c in self.list_review_comments(number):
                if c.in_reply_to == comment_id and c.author == me and mark and mark in c.body:
                    return True
            return None

        if find():
            return
        self._create_once(
            find,
            lambda: bool(
                self.client.request(
                    "POST",
                    f"{self.base}/pulls/{number}/comments/{comment_id}/replies",
                    json={"body": body},
                ).data
            ),
        )

    def failing_checks(self, sha: str) -> list[str]:
        """Failed check runs and failed or errored commit statuses of sha."""
        found = self.checks(sha)
        failed = []
        for run in found["check_runs"]:
            if run.get("conclusion") in ("failure", "timed_out", "action_required"):
                title = (run.get("output") or {}).get("title") or ""
                failed.append(f"{run.get('name')}: {run.get('conclusion')} {title}".strip())
        for st in found["statuses"]:
            if st.get("state") in ("failure", "error"):
                failed.append(
                    f"{st.get('context')}: {st.get('state')} {st.get('description') or ''}".strip()
                )
        return failed

    def delete_branch(self, branch: str) -> None:
        from urllib.parse import quote

        try:
            self.client.request(
                "DELETE", f"{self.base}/git/refs/heads/{quote(branch, safe='/')}", allow_404=True
            )
        except GitHubError as e:
            if e.status != 422:  # 422: the branch is gone already (deleted on merge)
                raise

    # -- the conversation ---------------------------------------------------------------------

    def update_comment(self, number: int, comment_id: int, body: str) -> None:
        self.client.request(
            "PATCH", f"{self.base}/issues/comments/{comment_id}", json={"body": body}
        )

    def label_events(self, number: IssueNumber) -> list[LabelEvent]:
        return [
            LabelEvent(
                label=str((e.get("label") or {}).get("name", "")),
                actor=str((e.get("actor") or {}).get("login", "")),
                action=str(e["event"]),
                created_at=str(e.get("created_at", "")),
            )
            for e in self.client.paginate(f"{self.base}/issues/{number}/events") or []
            if e.get("event") in ("labeled", "unlabeled")
        ]

    def association(self, login: str) -> str:
        """GitHub gives no author_association for a label's actor; the collaborator permission
        tells: the repository's owner is OWNER, write access or more is COLLABORATOR."""
        if login.lower() == self.owner.lower():
            return "OWNER"
        if login not in self._associations:
            from urllib.parse import quote

            reply = self.client.request(
                "GET",
                f"{self.base}/collaborators/{quote(login, safe='')}/permission",
                allow_404=True,
            )
            permission = "none" if reply.status == 404 else str(reply.data.get("permission"))
            self._associations[login] = (
                "COLLABORATOR" if permission in ("admin", "maintain", "write") else "NONE"
            )
        return self._associations[login]

    def own_login(self) -> str:
        if self._login is None:
            self._login = str(self.client.get("/user")["login"])
        return self._login

    def checks(self, sha: str) -> dict[str, Any]:
        """The combined status and the check runs of a commit."""
        status = self.client.get(f"{self.base}/commits/{sha}/status")
        runs = self.client.get(f"{self.base}/commits/{sha}/check-runs")
        return {
            "state": status.get("state"),
            "statuses": status.get("statuses", []),
            "check_runs": runs.get("check_runs", []),
        }
