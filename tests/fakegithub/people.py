"""Test helpers that act as people (maintainers, reviewers, CI) on the fake's state.

They change the world exactly as the matching API calls would (through ``ops``), so the client
under test sees what it would see after a person clicked in GitHub's web interface.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import datetime

from fakegithub import gitrepo, ops
from fakegithub.routes import HttpError
from fakegithub.state import (
    CONCLUSIONS,
    REVIEW_STATES,
    CheckRun,
    Issue,
    Job,
    Pull,
    Repo,
    Review,
    ReviewComment,
    Run,
    Status,
    World,
)


class People:
    """Mixed into FakeGitHub: ``world`` and ``lock`` come from there."""

    world: World
    lock: threading.RLock

    # lookups

    def repo(self, full_name: str) -> Repo:
        found = self.world.repos.get(full_name.lower())
        if found is None:
            raise KeyError(f"no repository {full_name} in the fake")
        return found

    def issue(self, full_name: str, number: int) -> Issue:
        """An issue or pull request as the fake holds it (for assertions)."""
        with self.lock:
            return self.repo(full_name).issues[number]

    def issues(self, full_name: str) -> list[Issue]:
        with self.lock:
            return sorted(self.repo(full_name).issues.values(), key=lambda i: i.number)

    def advance(self, seconds: float) -> None:
        """Move the fake's clock forward (timestamps, ``since``, rate-limit resets)."""
        with self.lock:
            self.world.clock.advance(seconds)

    def _person(self, login: str) -> str:
        self.world.ensure_user(login)
        return login

    # issues

    def open_issue_as(
        self, login: str, full_name: str, title: str, body: str = "", labels: Iterable[str] = ()
    ) -> int:
        with self.lock:
            repo = self.repo(full_name)
            made = ops.create_issue(
                self.world, repo, self._person(login), title, body, list(labels)
            )
            return made.number

    def comment_as(self, login: str, full_name: str, number: int, body: str) -> int:
        """A comment by ``login``; its ``author_association`` follows the repo's collaborators."""
        with self.lock:
            repo = self.repo(full_name)
            comment = ops.add_comment(
                self.world, repo, repo.issues[number], self._person(login), body
            )
            return comment.id

    def label_as(self, login: str, full_name: str, number: int, label: str) -> None:
        """Add ``label`` (created when the repository lacks it) with a ``labeled`` event."""
        with self.lock:
            repo = self.repo(full_name)
            ops.add_labels(self.world, repo, repo.issues[number], [label], self._person(login))

    def unlabel_as(self, login: str, full_name: str, number: int, label: str) -> None:
        with self.lock:
            repo = self.repo(full_name)
            ops.remove_label(self.world, repo, repo.issues[number], label, self._person(login))

    def close_as(self, login: str, full_name: str, number: int, reason: str | None = None) -> None:
        """Close an issue (``reason``: completed / not_planned) or a pull request unmerged."""
        with self.lock:
            repo = self.repo(full_name)
            issue = repo.issues[number]
            ops.set_state(self.world, repo, issue, "closed", self._person(login), reason)

    def reopen_as(self, login: str, full_name: str, number: int) -> None:
        with self.lock:
            repo = self.repo(full_name)
            ops.set_state(self.world, repo, repo.issues[number], "open", self._person(login))

    def add_label(
        self, full_name: str, name: str, color: str = "ededed", description: str | None = None
    ) -> None:
        with self.lock:
            label = ops.ensure_label(self.world, self.repo(full_name), name)
            label.color, label.description = color, description

    # pull requests

    def open_pull_as(
        self,
        login: str,
        full_name: str,
        head: str,
        title: str,
        body: str = "",
        base: str | None = None,
        draft: bool = False,
    ) -> int:
        """A pull request from branch ``head`` (which must exist in the bare repository)."""
        with self.lock:
            repo = self.repo(full_name)
            if repo.git_dir is None:
                raise ValueError(f"{full_name} has no git_dir")
            base = base or repo.default_branch
            head_sha = gitrepo.branch_sha(repo.git_dir, head)
            base_sha = gitrepo.branch_sha(repo.git_dir, base)
            if head_sha is None or base_sha is None:
                raise ValueError(f"{head} or {base} is not a branch of {repo.git_dir}")
            issue = ops.create_issue(self.world, repo, self._person(login), title, body, [])
            issue.pull = Pull(head, base, head_sha, base_sha, draft=draft)
            return issue.number

    def merge_as(self, login: str, full_name: str, number: int, method: str = "merge") -> str:
        """Merge for real in the bare repository, as the merge button does; the new base SHA.

        ``merge`` makes a merge commit (GitHub never fast-forwards here), ``squash`` one
        commit, ``rebase`` a fast-forward (the fake refuses a rebase that would need replaying).
        """
        with self.lock:
            repo = self.repo(full_name)
            try:
                return ops.merge_pull(
                    self.world, repo, repo.issues[number], self._person(login), method
                )
            except HttpError as error:
                raise ValueError(f"cannot merge #{number}: {error.message}") from None

    def mark_ready(self, full_name: str, number: int) -> None:
        """Take a pull request out of draft (GitHub offers this only in GraphQL and the web)."""
        with self.lock:
            pull = self.repo(full_name).issues[number].pull
            assert pull is not None
            pull.draft = False

    def add_review(
        self, full_name: str, number: int, user: str, state: str = "APPROVED", body: str = ""
    ) -> int:
        if state not in REVIEW_STATES:
            raise ValueError(f"review state must be one of {REVIEW_STATES}")
        with self.lock:
            repo = self.repo(full_name)
            issue = repo.issues[number]
            assert issue.pull is not None
            sha = issue.pull.head_sha
            if repo.git_dir is not None and issue.state == "open":
                sha = gitrepo.branch_sha(repo.git_dir, issue.pull.head) or sha
            review = Review(
                self.world.new_id(), self._person(user), state, body, sha, self.world.clock.stamp()
            )
            issue.pull.reviews.append(review)
            issue.updated_at = review.submitted_at
            return review.id

    def add_review_comment(
        self,
        full_name: str,
        number: int,
        user: str,
        body: str,
        path: str = "README.md",
        line: int = 1,
        review_id: int | None = None,
    ) -> int:
        with self.lock:
            issue = self.repo(full_name).issues[number]
            assert issue.pull is not None
            now = self.world.clock.stamp()
            comment = ReviewComment(
                self.world.new_id(),
                review_id,
                self._person(user),
                body,
                path,
                line,
                issue.pull.head_sha,
                now,
                now,
            )
            issue.pull.review_comments.append(comment)
            return comment.id

    def reply_to_review_comment_as(
        self, login: str, full_name: str, number: int, comment_id: int, body: str
    ) -> int:
        """A reply in the thread of review comment ``comment_id`` (as the API's ``replies``)."""
        with self.lock:
            issue = self.repo(full_name).issues[number]
            try:
                made = ops.reply_to_review_comment(
                    self.world, issue, comment_id, self._person(login), body
                )
            except HttpError as error:
                raise ValueError(f"cannot reply to {comment_id}: {error.message}") from None
            return made.id

    def delete_branch_as(self, login: str, full_name: str, branch: str) -> None:
        """Delete a branch in the bare repository, as the web interface's delete button does
        (open pull requests from it are closed, as on GitHub)."""
        with self.lock:
            repo = self.repo(full_name)
            try:
                ops.delete_branch(self.world, repo, f"heads/{branch}", self._person(login))
            except HttpError as error:
                raise ValueError(f"cannot delete {branch}: {error.message}") from None

    def branch_sha(self, full_name: str, branch: str) -> str | None:
        """The tip of ``branch`` in the bare repository, or None when it has no such branch."""
        with self.lock:
            git_dir = self.repo(full_name).git_dir
            if git_dir is None:
                raise ValueError(f"{full_name} has no git_dir")
            return gitrepo.branch_sha(git_dir, branch)

    def corrupt_issue(self, full_name: str, number: int, drop_field: str) -> None:
        """Leave ``drop_field`` out of this issue's JSON (to prove the contract check bites)."""
        with self.lock:
            self.repo(full_name).issues[number].corrupt.add(drop_field)

    # commits

    def set_checks(
        self, full_name: str, sha: str, checks: Iterable[tuple[str, str | None]]
    ) -> None:
        """The check runs on ``sha``: ``(name, conclusion)``; a None conclusion is in progress."""
        with self.lock:
            now = self.world.clock.stamp()
            runs = []
            for name, conclusion in checks:
                if conclusion is not None and conclusion not in CONCLUSIONS:
                    raise ValueError(f"conclusion must be one of {CONCLUSIONS} or None")
                status = "in_progress" if conclusion is None else "completed"
                done = None if conclusion is None else now
                runs.append(CheckRun(self.world.new_id(), name, sha, status, conclusion, now, done))
            self.repo(full_name).checks[sha] = runs

    def set_statuses(self, full_name: str, sha: str, statuses: Iterable[tuple[str, str]]) -> None:
        """Commit statuses on ``sha``: ``(context, state)``, state error/failure/pending/success."""
        with self.lock:
            now = self.world.clock.stamp()
            self.repo(full_name).statuses[sha] = [
                Status(self.world.new_id(), context, state, None, now)
                for context, state in statuses
            ]

    # actions

    def add_workflow_run(
        self,
        full_name: str,
        head_sha: str,
        workflow: str = "ci.yml",
        head_branch: str = "main",
        conclusion: str | None = "failure",
        event: str = "push",
        actor: str | None = None,
        created_at: datetime | None = None,
    ) -> int:
        """A finished (or, with ``conclusion=None``, running) workflow run; its id."""
        with self.lock:
            repo = self.repo(full_name)
            workflow_id = repo.workflows.setdefault(workflow, self.world.new_id())
            number = 1 + sum(1 for r in repo.runs.values() if r.workflow_id == workflow_id)
            when = created_at or self.world.clock.stamp()
            run = Run(
                self.world.new_id(),
                workflow_id,
                f".github/workflows/{workflow}",
                workflow.rsplit(".", 1)[0].upper(),
                number,
                event,
                self._person(actor or repo.owner),
                head_branch,
                head_sha,
                "completed" if conclusion else "in_progress",
                conclusion,
                when,
                when,
            )
            repo.runs[run.id] = run
            return run.id

    def add_attempt(self, full_name: str, run_id: int, conclusion: str | None = "success") -> int:
        """Re-run a workflow run: a new attempt (the latest), its number."""
        with self.lock:
            run = self.repo(full_name).runs[run_id]
            run.run_attempt += 1
            run.conclusion = conclusion
            run.status = "completed" if conclusion else "in_progress"
            run.updated_at = self.world.clock.stamp()
            return run.run_attempt

    def add_job(
        self,
        full_name: str,
        run_id: int,
        name: str,
        conclusion: str | None = "failure",
        log: str = "",
        attempt: int | None = None,
    ) -> int:
        """A job of a run's attempt (default: the latest) with its log text; its id."""
        with self.lock:
            repo = self.repo(full_name)
            run = repo.runs[run_id]
            now = self.world.clock.stamp()
            job = Job(
                self.world.new_id(),
                run_id,
                attempt or run.run_attempt,
                name,
                "completed" if conclusion else "in_progress",
                conclusion,
                now,
                now if conclusion else None,
                log,
            )
            repo.jobs[job.id] = job
            return job.id
