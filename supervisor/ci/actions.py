"""GitHub Actions as a source of CI logs: failed jobs of the configured workflow, all attempts.

- runs of the workflow since the last scan (first scan: ``sources.ci.since``), listed with a
  conditional request (a re-scan with nothing new is a 304, which costs no rate limit);
- every attempt of each run: a job that failed on one attempt and passed on another at the same
  SHA is a flaky signal, handed to the classifier;
- each failed job's log: the API answers with a redirect to a short-lived link; the log is
  streamed to disk (state/ci-logs/), never held whole in memory.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from supervisor import cursors
from supervisor.ci.logs import LogRef
from supervisor.config import Config
from supervisor.github.client import GitHubClient, GitHubError
from supervisor.home import Home
from supervisor.triage.classify import Signals

log = logging.getLogger("supervisor.ci")

CURSOR = "actions"
MAX_RUNS = 200  # per scan: an old backlog is worked through over several scans
MAX_DONE = 5000  # runs remembered as looked at
CHUNK = 1 << 16


@dataclass
class JobSeen:
    run: int
    attempt: int
    job: str
    sha: str
    conclusion: str | None


class ActionsSource:
    def __init__(
        self,
        client: GitHubClient,
        owner: str,
        repo: str,
        workflow: str,
        since_s: float,
        home: Home,
        branch: str = "",
        logs_root: Path | None = None,
    ) -> None:
        self.client = client
        self.base = f"/repos/{owner}/{repo}"
        self.slug = f"{owner}/{repo}"
        self.workflow = workflow
        self.branch = branch
        self.logs_root = logs_root or home.state / "ci-logs"  # a temporary folder for a dry run
        self.name = f"{workflow}@{branch}" if branch else workflow  # its cursor and ETag
        self.since_s = since_s
        self.home = home
        self._pending: dict[str, Any] = {}

    @property
    def _etag_key(self) -> str:
        return f"runs:{self.slug}:{self.name}"

    def _state(self) -> dict[str, Any]:
        state = cursors.read(self.home).get(CURSOR, {}).get(self.name)
        return dict(state) if isinstance(state, dict) else {}

    def _since(self) -> str:
        """The first day the listing covers: `since` ago, moved on at most once a day, so that
        the listing's URL (and so its ETag) stays the same from scan to scan: a re-scan with
        nothing new is a 304. Runs are deduplicated by `done` and the log keys, not by time."""
        today = datetime.now(UTC).date()
        window = timedelta(seconds=self.since_s)
        day = self._state().get("since_day")
        if day:
            start = datetime.strptime(str(day), "%Y-%m-%d").date()
            if today - start <= window + timedelta(days=1):
                return start.isoformat()
        return (datetime.now(UTC) - window).date().isoformat()

    def runs(self) -> list[dict[str, Any]] | None:
        """Completed runs since the watermark, oldest first; None when nothing changed (304)."""
        pages = self.client.paginate(
            f"{self.base}/actions/workflows/{self.workflow}/runs",
            {
                "created": f">={self._since()}",
                "status": "completed",
                **({"branch": self.branch} if self.branch else {}),
            },
            etag_key=self._etag_key,
            key="workflow_runs",
            defer_etag=True,
        )
        if pages is None:
            return None
        runs = sorted(pages, key=lambda r: (r.get("created_at", ""), r["id"]))
        return runs[:MAX_RUNS]

    def jobs(self, run: dict[str, Any]) -> Iterator[tuple[dict[str, Any], int]]:
        for attempt in range(1, int(run.get("run_attempt") or 1) + 1):
            pages = self.client.paginate(
                f"{self.base}/actions/runs/{run['id']}/attempts/{attempt}/jobs", key="jobs"
            )
            for job in pages or []:
                yield job, attempt

    def collect(self, seen: set[str]) -> tuple[list[LogRef], dict[str, Signals], bool]:
        """The failed jobs' logs not seen before (downloaded), per log key the signals of its
        run (a pass of the same job at the same SHA: a flaky signal), and the new watermark,
        which the caller saves with advance() only once the findings are saved."""
        runs = self.runs()
        if runs is None:
            return [], {}, False
        refs: list[LogRef] = []
        signals: dict[str, Signals] = {}
        done = self._state().get("done", {})
        for run in runs:
            if done.get(str(run["id"])) == run.get("run_attempt"):
                continue  # every attempt of this run was looked at already
            sha = str(run.get("head_sha", ""))
            outcomes: dict[str, list[JobSeen]] = {}
            failed: list[tuple[dict[str, Any], int]] = []
            for job, attempt in self.jobs(run):
                name = str(job.get("name", job["id"]))
                outcomes.setdefault(name, []).append(
                    JobSeen(run["id"], attempt, name, sha, job.get("conclusion"))
                )
                if job.get("conclusion") == "failure":
                    failed.append((job, attempt))
            for job, attempt in failed:
                key = f"gha:{self.slug}:{run['id']}:{attempt}:{job['id']}"
                if key in seen:
                    continue
                path = self.download(run["id"], job["id"], attempt)
                if path is None:
                    continue
                name = str(job.get("name", job["id"]))
                passed = [j for j in outcomes.get(name, []) if j.conclusion == "success"]
                refs.append(
                    LogRef(
                        path=path,
                        key=key,
                        run=str(run["id"]),
                        job=name,
                        attempt=attempt,
                        sha=sha,
                        url=job.get("html_url"),
                        time=job.get("completed_at"),
                    )
                )
                signals[key] = Signals(
                    sha=sha,
                    passed_at_same_sha=bool(passed),
                    passed_where=f"a rerun of job '{name}'" if passed else "",
                    failed_attempt=attempt,
                    passed_attempt=passed[0].attempt if passed else None,
                    run_conclusion=str(run.get("conclusion") or ""),
                    cancelled=run.get("conclusion") == "cancelled",
                )
            done[str(run["id"])] = run.get("run_attempt")
        self._pending = {"since_day": self._since(), "done": _newest(done, MAX_DONE)}
        return refs, signals, True

    def advance(self, collected: bool) -> None:
        """Called once the findings are saved: the runs looked at and the ETag move on."""
        if collected and self._pending:
            state = cursors.read(self.home).get(CURSOR, {})
            state[self.name] = self._pending
            cursors.update(self.home, CURSOR, state)
        self.client.commit_etag(self._etag_key)

    def download(self, run_id: int, job_id: int, attempt: int) -> Path | None:
        """Stream one job's log to state/ci-logs/; None when GitHub no longer has it."""
        reply = self.client.request(
            "GET", f"{self.base}/actions/jobs/{job_id}/logs", allow_redirects=False, allow_404=True
        )
        if reply.status == 404:
            log.warning("the log of job %s is gone (expired?); skipped", job_id)
            return None
        location = reply.headers.get("Location")
        if reply.status != 302 or not location:
            raise GitHubError(f"expected a redirect to job {job_id}'s log, got {reply.status}")
        dest = self.logs_root / str(run_id) / f"{job_id}-{attempt}.log"
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_suffix(".part")
        # The short-lived link carries its own authorization: no token is sent there.
        with requests.get(location, stream=True, timeout=self.client.timeout) as r:
            if r.status_code != 200:
                raise GitHubError(f"downloading job {job_id}'s log answered {r.status_code}")
            with open(tmp, "wb") as out:
                for chunk in r.iter_content(CHUNK):
                    out.write(chunk)
        tmp.replace(dest)
        return dest


def _newest(done: dict[str, Any], limit: int) -> dict[str, Any]:
    """The `limit` highest run ids (runs are numbered in order)."""
    keys = sorted(done, key=lambda k: int(k) if k.isdigit() else 0)[-limit:]
    return {k: done[k] for k in keys}


def sources(
    client: GitHubClient,
    owner: str,
    repo: str,
    cfg: Config,
    home: Home,
    logs_root: Path | None = None,
) -> list[ActionsSource]:
    """One source per configured workflow and branch (every branch when none is given)."""
    ci = cfg.sources.ci
    return [
        ActionsSource(client, owner, repo, workflow, ci.since, home, branch, logs_root=logs_root)
        for workflow in ci.workflow
        for branch in (ci.branches or [""])
    ]
