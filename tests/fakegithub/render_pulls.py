"""JSON for pull requests, reviews, commit statuses, check runs, workflow runs and jobs."""

from __future__ import annotations

from fakegithub import gitrepo
from fakegithub.render import HTML, Json, Render, node_id, reactions
from fakegithub.state import CheckRun, Issue, Job, Repo, Review, ReviewComment, Run, Status, iso

STEP_STATES = ("queued", "in_progress", "completed")
ACTIONS_APP = {
    "id": 15368,
    "slug": "github-actions",
    "node_id": "MDM6QXBwMTUzNjg=",
    "name": "GitHub Actions",
    "description": "Automate your workflow from idea to production",
    "external_url": "https://help.github.com/en/actions",
    "html_url": "https://github.com/apps/github-actions",
    "created_at": "2018-07-30T09:30:17Z",
    "updated_at": "2024-04-10T20:33:16Z",
    "permissions": {"checks": "write", "contents": "write", "metadata": "read"},
    "events": ["check_run", "check_suite", "push", "pull_request"],
}


def head_sha(repo: Repo, issue: Issue) -> str:
    """The head SHA: the branch's current tip while the pull request is open, as on GitHub."""
    assert issue.pull is not None
    if issue.state == "open" and repo.git_dir is not None:
        live = gitrepo.branch_sha(repo.git_dir, issue.pull.head)
        if live:
            issue.pull.head_sha = live
    return issue.pull.head_sha


def base_sha(repo: Repo, issue: Issue) -> str:
    assert issue.pull is not None
    if issue.state == "open" and repo.git_dir is not None:
        live = gitrepo.branch_sha(repo.git_dir, issue.pull.base)
        if live:
            issue.pull.base_sha = live
    return issue.pull.base_sha


class RenderPulls(Render):
    """``Render`` plus everything that hangs off pull requests and commits."""

    def _branch(self, repo: Repo, ref: str, sha: str) -> Json:
        return {
            "label": f"{repo.owner}:{ref}",
            "ref": ref,
            "sha": sha,
            "user": self.user(repo.owner),
            "repo": self.repo(repo),
        }

    def pull(self, repo: Repo, issue: Issue, full: bool = True) -> Json:
        """``pull-request`` (``full``) or ``pull-request-simple`` (the list endpoint's shape)."""
        pull = issue.pull
        assert pull is not None
        url = f"{self.api}/repos/{repo.full_name}/pulls/{issue.number}"
        issue_url = f"{self.api}/repos/{repo.full_name}/issues/{issue.number}"
        html = f"{HTML}/{repo.full_name}/pull/{issue.number}"
        head, base = head_sha(repo, issue), base_sha(repo, issue)
        statuses = f"{self.api}/repos/{repo.full_name}/statuses/{head}"
        plain = self.issue(repo, issue)
        body: Json = {
            "url": url,
            "id": issue.id,
            "node_id": plain["node_id"],
            "html_url": html,
            "diff_url": f"{html}.diff",
            "patch_url": f"{html}.patch",
            "issue_url": issue_url,
            "commits_url": f"{url}/commits",
            "review_comments_url": f"{url}/comments",
            "review_comment_url": f"{self.api}/repos/{repo.full_name}/pulls/comments{{/number}}",
            "comments_url": f"{issue_url}/comments",
            "statuses_url": statuses,
            "number": issue.number,
            "state": issue.state,
            "locked": False,
            "title": issue.title,
            "user": plain["user"],
            "body": issue.body,
            "labels": plain["labels"],
            "milestone": None,
            "active_lock_reason": None,
            "created_at": plain["created_at"],
            "updated_at": plain["updated_at"],
            "closed_at": plain["closed_at"],
            "merged_at": iso(pull.merged_at),
            "merge_commit_sha": pull.merge_commit_sha,
            "assignee": None,
            "assignees": [],
            "requested_reviewers": [],
            "requested_teams": [],
            "head": self._branch(repo, pull.head, head),
            "base": self._branch(repo, pull.base, base),
            "_links": {
                name: {"href": href}
                for name, href in {
                    "self": url,
                    "html": html,
                    "issue": issue_url,
                    "comments": f"{issue_url}/comments",
                    "review_comments": f"{url}/comments",
                    "review_comment": body_template(self.api, repo),
                    "commits": f"{url}/commits",
                    "statuses": statuses,
                }.items()
            },
            "author_association": plain["author_association"],
            "auto_merge": None,
            "draft": pull.draft,
        }
        if full:
            commits, additions, deletions, files = (0, 0, 0, 0)
            is_open = issue.state == "open"
            clean = True
            if repo.git_dir is not None:
                commits, additions, deletions, files = gitrepo.diff_stats(repo.git_dir, base, head)
                clean = not is_open or gitrepo.merges_cleanly(repo.git_dir, base, head)
            state = "unknown"
            if is_open:
                state = "dirty" if not clean else "draft" if pull.draft else "clean"
            body.update(
                merged=pull.merged_at is not None,
                mergeable=clean if is_open else None,
                rebaseable=clean if is_open else None,
                mergeable_state=state,
                merged_by=self.user(pull.merged_by) if pull.merged_by else None,
                comments=len(issue.comments),
                review_comments=len(pull.review_comments),
                maintainer_can_modify=pull.maintainer_can_modify,
                commits=commits,
                additions=additions,
                deletions=deletions,
                changed_files=files,
            )
        for field in issue.corrupt:
            body.pop(field, None)
        return body

    def review(self, repo: Repo, issue: Issue, review: Review) -> Json:
        pulls = f"{self.api}/repos/{repo.full_name}/pulls/{issue.number}"
        html = f"{HTML}/{repo.full_name}/pull/{issue.number}#pullrequestreview-{review.id}"
        return {
            "id": review.id,
            "node_id": node_id("PullRequestReview", review.id),
            "user": self.user(review.user),
            "body": review.body,
            "state": review.state,
            "html_url": html,
            "pull_request_url": pulls,
            "author_association": repo.association(review.user),
            "_links": {"html": {"href": html}, "pull_request": {"href": pulls}},
            "submitted_at": iso(review.submitted_at),
            "commit_id": review.commit_id,
        }

    def review_comment(self, repo: Repo, issue: Issue, comment: ReviewComment) -> Json:
        pulls = f"{self.api}/repos/{repo.full_name}/pulls/{issue.number}"
        url = f"{self.api}/repos/{repo.full_name}/pulls/comments/{comment.id}"
        html = f"{HTML}/{repo.full_name}/pull/{issue.number}#discussion_r{comment.id}"
        body: Json = {
            "url": url,
            "pull_request_review_id": comment.review_id,
            "id": comment.id,
            "node_id": node_id("PullRequestReviewComment", comment.id),
            "diff_hunk": f"@@ -{comment.line},1 +{comment.line},1 @@",
            "path": comment.path,
            "position": 1,
            "original_position": 1,
            "commit_id": comment.commit_id,
            "original_commit_id": comment.commit_id,
            "user": self.user(comment.user),
            "body": comment.body,
            "created_at": iso(comment.created_at),
            "updated_at": iso(comment.updated_at),
            "html_url": html,
            "pull_request_url": pulls,
            "author_association": repo.association(comment.user),
            "_links": {
                "self": {"href": url},
                "html": {"href": html},
                "pull_request": {"href": pulls},
            },
            "line": comment.line,
            "original_line": comment.line,
            "side": "RIGHT",
            "subject_type": "line",
            "reactions": reactions(url),
        }
        if comment.in_reply_to_id is not None:  # GitHub leaves the key out of a thread's first
            body["in_reply_to_id"] = comment.in_reply_to_id
        return body

    # commits: statuses and checks

    def combined_status(self, repo: Repo, sha: str, statuses: list[Status]) -> Json:
        states = {s.state for s in statuses}
        if states & {"failure", "error"}:
            state = "failure"
        elif not statuses or "pending" in states:
            state = "pending"
        else:
            state = "success"
        url = f"{self.api}/repos/{repo.full_name}/commits/{sha}"
        return {
            "state": state,
            "statuses": [self.status(repo, sha, s) for s in statuses],
            "sha": sha,
            "total_count": len(statuses),
            "repository": self.repo(repo),
            "commit_url": url,
            "url": f"{url}/status",
        }

    def status(self, repo: Repo, sha: str, status: Status) -> Json:
        return {
            "url": f"{self.api}/repos/{repo.full_name}/statuses/{sha}",
            "avatar_url": None,
            "id": status.id,
            "node_id": node_id("StatusContext", status.id),
            "state": status.state,
            "description": status.description,
            "target_url": None,
            "context": status.context,
            "created_at": iso(status.created_at),
            "updated_at": iso(status.created_at),
        }

    def check_run(self, repo: Repo, run: CheckRun) -> Json:
        url = f"{self.api}/repos/{repo.full_name}/check-runs/{run.id}"
        html = f"{HTML}/{repo.full_name}/runs/{run.id}"
        return {
            "id": run.id,
            "head_sha": run.head_sha,
            "node_id": node_id("CheckRun", run.id),
            "external_id": "",
            "url": url,
            "html_url": html,
            "details_url": html,
            "status": run.status,
            "conclusion": run.conclusion,
            "started_at": iso(run.started_at),
            "completed_at": iso(run.completed_at),
            "output": {
                "title": None,
                "summary": None,
                "text": None,
                "annotations_count": 0,
                "annotations_url": f"{url}/annotations",
            },
            "name": run.name,
            "check_suite": {"id": run.id + 1},
            "app": {**ACTIONS_APP, "owner": self.user("github")},
            "pull_requests": [],
        }

    # actions

    def workflow_run(self, repo: Repo, run: Run) -> Json:
        repo_url = f"{self.api}/repos/{repo.full_name}"
        url = f"{repo_url}/actions/runs/{run.id}"
        html = f"{HTML}/{repo.full_name}/actions/runs/{run.id}"
        info = gitrepo.commit_info(repo.git_dir, run.head_sha) if repo.git_dir else None
        email = f"{run.actor}@users.noreply.github.com"
        previous = f"{url}/attempts/{run.run_attempt - 1}" if run.run_attempt > 1 else None
        return {
            "id": run.id,
            "name": run.name,
            "node_id": node_id("WorkflowRun", run.id),
            "check_suite_id": run.id + 1,
            "check_suite_node_id": node_id("CheckSuite", run.id + 1),
            "head_branch": run.head_branch,
            "head_sha": run.head_sha,
            "path": run.workflow_path,
            "display_title": info["message"].splitlines()[0] if info else run.name,
            "run_number": run.run_number,
            "run_attempt": run.run_attempt,
            "event": run.event,
            "status": run.status,
            "conclusion": run.conclusion,
            "workflow_id": run.workflow_id,
            "url": url,
            "html_url": html,
            "pull_requests": [],
            "created_at": iso(run.created_at),
            "updated_at": iso(run.updated_at),
            "run_started_at": iso(run.created_at),
            "actor": self.user(run.actor),
            "triggering_actor": self.user(run.actor),
            "jobs_url": f"{url}/jobs",
            "logs_url": f"{url}/logs",
            "check_suite_url": f"{self.api}/repos/{repo.full_name}/check-suites/{run.id + 1}",
            "artifacts_url": f"{url}/artifacts",
            "cancel_url": f"{url}/cancel",
            "rerun_url": f"{url}/rerun",
            "previous_attempt_url": previous,
            "workflow_url": f"{repo_url}/actions/workflows/{run.workflow_id}",
            "head_commit": {
                "id": run.head_sha,
                "tree_id": info["tree"] if info else "4b825dc642cb6eb9a060e54bf8d69288fbee4904",
                "message": info["message"] if info else run.name,
                "timestamp": iso(run.created_at),
                "author": {
                    "name": info["author"] if info else run.actor,
                    "email": info["email"] if info else email,
                },
                "committer": {
                    "name": info["committer"] if info else run.actor,
                    "email": info["committer_email"] if info else email,
                },
            },
            "repository": self.repo(repo),
            "head_repository": self.repo(repo),
        }

    def job(self, repo: Repo, run: Run, job: Job) -> Json:
        url = f"{self.api}/repos/{repo.full_name}/actions/jobs/{job.id}"
        return {
            "id": job.id,
            "run_id": job.run_id,
            "run_url": f"{self.api}/repos/{repo.full_name}/actions/runs/{run.id}",
            "run_attempt": job.run_attempt,
            "node_id": node_id("CheckRun", job.id),
            "head_sha": run.head_sha,
            "url": url,
            "html_url": f"{HTML}/{repo.full_name}/actions/runs/{run.id}/job/{job.id}",
            "status": job.status,
            "conclusion": job.conclusion,
            "created_at": iso(job.started_at),
            "started_at": iso(job.started_at),
            "completed_at": iso(job.completed_at),
            "name": job.name,
            "steps": [
                {
                    "name": "Run tests",
                    "status": job.status if job.status in STEP_STATES else "queued",
                    "conclusion": job.conclusion,
                    "number": 1,
                    "started_at": iso(job.started_at),
                    "completed_at": iso(job.completed_at),
                }
            ],
            "check_run_url": f"{self.api}/repos/{repo.full_name}/check-runs/{job.id}",
            "labels": ["ubuntu-latest"],
            "runner_id": 1,
            "runner_name": "GitHub Actions 1",
            "runner_group_id": 1,
            "runner_group_name": "GitHub Actions",
            "workflow_name": run.name,
            "head_branch": run.head_branch,
        }


def body_template(api: str, repo: Repo) -> str:
    return f"{api}/repos/{repo.full_name}/pulls/comments{{/number}}"
