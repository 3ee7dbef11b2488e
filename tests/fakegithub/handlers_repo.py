"""The user, repositories (collaborator permissions, git refs), the rate limit, commit statuses and
checks, and GitHub Actions."""

from __future__ import annotations

import re
import secrets
from datetime import datetime

from fakegithub import gitrepo, ops
from fakegithub.routes import Ctx, HttpError, Reply, invalid_field, not_implemented, route
from fakegithub.state import LogLink, Repo, Run, parse_iso

R = "/repos/{owner}/{repo}"
PERMISSION_DOCS = (
    "https://docs.github.com/rest/collaborators/collaborators#get-repository-permissions-for-a-user"
)
SHA = re.compile(r"^[0-9a-f]{40}$")
LOG_LINK_SECONDS = 60


@route("GET", "/user")
def get_user(ctx: Ctx) -> Reply:
    return Reply(200, ctx.render.private_user(ctx.login))


@route("GET", R)
def get_repo(ctx: Ctx, owner: str, repo: str) -> Reply:
    return Reply(200, ctx.render.repo(ctx.repo(owner, repo), viewer=ctx.login))


@route("GET", "/rate_limit")
def get_rate_limit(ctx: Ctx) -> Reply:
    return Reply(200, ctx.render.rate_limit(ctx.login))


@route("GET", f"{R}/collaborators/{{username}}/permission")
def collaborator_permission(ctx: Ctx, owner: str, repo: str, username: str) -> Reply:
    """Anyone the fake knows has a permission (read on a public repository when not a
    collaborator); 404 only for a login that is no user at all, as on GitHub."""
    found = ctx.repo(owner, repo)
    login = ctx.world.find_user(username)
    if login is None:
        raise HttpError(404, f"{username} is not a user", documentation_url=PERMISSION_DOCS)
    return Reply(200, ctx.render.collaborator_permission(found, login))


# git refs


@route("DELETE", f"{R}/git/refs/{{ref}}", multi_segment=("ref",))
def delete_ref(ctx: Ctx, owner: str, repo: str, ref: str) -> Reply:
    """Delete ``heads/<branch>`` (or ``tags/<tag>``) in the bare repository: 204, or 422."""
    found = ctx.repo(owner, repo)
    ctx.require_push(found)
    ops.delete_branch(ctx.world, found, ref, ctx.login)
    return Reply(204, None)


# commits


def resolve_ref(repo: Repo, ref: str) -> str:
    """The SHA a commit ref names: a SHA the fake knows checks for, or a ref in the git repo."""
    if SHA.match(ref) and (ref in repo.checks or ref in repo.statuses):
        return ref
    if repo.git_dir is not None and (sha := gitrepo.rev_parse(repo.git_dir, ref)):
        return sha
    if SHA.match(ref) and repo.git_dir is None:
        return ref
    # GitHub answers 422 here, which its description does not list for these operations.
    raise HttpError(404, f"No commit found for SHA: {ref}")


@route("GET", f"{R}/commits/{{ref}}/status", multi_segment=("ref",))
def combined_status(ctx: Ctx, owner: str, repo: str, ref: str) -> Reply:
    found = ctx.repo(owner, repo)
    sha = resolve_ref(found, ref)
    return Reply(200, ctx.render.combined_status(found, sha, found.statuses.get(sha, [])))


@route("GET", f"{R}/commits/{{ref}}/check-runs", multi_segment=("ref",))
def list_check_runs(ctx: Ctx, owner: str, repo: str, ref: str) -> Reply:
    ctx.request.refuse("app_id")
    found = ctx.repo(owner, repo)
    sha = resolve_ref(found, ref)
    name, status = ctx.request.arg("check_name"), ctx.request.arg("status")
    runs = [
        r
        for r in found.checks.get(sha, [])
        if (name is None or r.name == name) and (status is None or r.status == status)
    ]
    return Reply(items=runs, render=lambda r: ctx.render.check_run(found, r), envelope="check_runs")


# actions


def created_test(text: str) -> tuple[datetime | None, datetime | None, bool]:
    """``created``: ``>=D``, ``>D``, ``<=D``, ``<D``, ``D..D`` or ``D``; (low, high, strict)."""
    try:
        if ".." in text:
            low, high = text.split("..", 1)
            return (
                (None if low == "*" else parse_iso(low)),
                (None if high == "*" else parse_iso(high)),
                False,
            )
        for op in (">=", "<=", ">", "<"):
            if text.startswith(op):
                moment = parse_iso(text[len(op) :])
                low_side = op.startswith(">")
                return (moment, None, op == ">") if low_side else (None, moment, op == "<")
        moment = parse_iso(text)
        return moment, moment.replace(hour=23, minute=59, second=59), False
    except ValueError:
        raise invalid_field("WorkflowRun", "created", text) from None


def workflow(repo: Repo, workflow_id: str) -> int:
    """A workflow's id from its numeric id or its file name (``ci.yml``)."""
    if workflow_id.isdigit() and int(workflow_id) in repo.workflows.values():
        return int(workflow_id)
    if workflow_id in repo.workflows:
        return repo.workflows[workflow_id]
    raise HttpError(404, "Not Found")


@route("GET", f"{R}/actions/workflows/{{workflow_id}}/runs")
def list_runs(ctx: Ctx, owner: str, repo: str, workflow_id: str) -> Reply:
    request = ctx.request
    request.refuse("check_suite_id")
    found = ctx.repo(owner, repo)
    wid = workflow(found, workflow_id)
    actor, branch = request.arg("actor"), request.arg("branch")
    event, status, head_sha = request.arg("event"), request.arg("status"), request.arg("head_sha")
    low = high = None
    strict = False
    if created := request.arg("created"):
        low, high, strict = created_test(created)

    def keep(run: Run) -> bool:
        if low is not None and (run.created_at <= low if strict else run.created_at < low):
            return False
        if high is not None and (run.created_at >= high if strict else run.created_at > high):
            return False
        return (
            run.workflow_id == wid
            and actor in (None, run.actor)
            and branch in (None, run.head_branch)
            and event in (None, run.event)
            and status in (None, run.status, run.conclusion)
            and head_sha in (None, run.head_sha)
        )

    runs = sorted((r for r in found.runs.values() if keep(r)), key=lambda r: -r.id)
    return Reply(
        items=runs, render=lambda r: ctx.render.workflow_run(found, r), envelope="workflow_runs"
    )


def run_of(ctx: Ctx, repo: Repo, run_id: str) -> Run:
    run = found if run_id.isdigit() and (found := repo.runs.get(int(run_id))) else None
    if run is None:
        raise HttpError(404, "Not Found")
    return run


def jobs_reply(ctx: Ctx, repo: Repo, run: Run, attempt: int | None) -> Reply:
    jobs = [
        j
        for j in sorted(repo.jobs.values(), key=lambda j: j.id)
        if j.run_id == run.id and (attempt is None or j.run_attempt == attempt)
    ]
    return Reply(items=jobs, render=lambda j: ctx.render.job(repo, run, j), envelope="jobs")


@route("GET", f"{R}/actions/runs/{{run_id}}/jobs")
def list_jobs(ctx: Ctx, owner: str, repo: str, run_id: str) -> Reply:
    found = ctx.repo(owner, repo)
    run = run_of(ctx, found, run_id)
    which = ctx.request.arg("filter", "latest")
    if which not in ("latest", "all"):
        raise invalid_field("Job", "filter", which)
    return jobs_reply(ctx, found, run, run.run_attempt if which == "latest" else None)


@route("GET", f"{R}/actions/runs/{{run_id}}/attempts/{{attempt_number}}/jobs")
def list_attempt_jobs(ctx: Ctx, owner: str, repo: str, run_id: str, attempt_number: str) -> Reply:
    found = ctx.repo(owner, repo)
    run = run_of(ctx, found, run_id)
    if not attempt_number.isdigit() or not 1 <= int(attempt_number) <= run.run_attempt:
        raise HttpError(404, "Not Found")
    return jobs_reply(ctx, found, run, int(attempt_number))


@route("GET", f"{R}/actions/jobs/{{job_id}}/logs")
def job_logs(ctx: Ctx, owner: str, repo: str, job_id: str) -> Reply:
    found = ctx.repo(owner, repo)
    job = found.jobs.get(int(job_id)) if job_id.isdigit() else None
    if job is None:
        raise HttpError(404, "Not Found")
    if job.status != "completed":
        raise not_implemented("logs of a job that has not completed")
    token = secrets.token_urlsafe(16)
    expires = ctx.world.clock.now() + LOG_LINK_SECONDS
    ctx.world.log_links[token] = LogLink(job.log, expires)
    location = f"{ctx.render.api}/_blobs/job-logs/{token}?urlExpires={int(expires)}"
    return Reply(302, None, headers={"Location": location})
