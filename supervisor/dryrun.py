"""`supervisor start --dry-run`: what a chain would do now, changing nothing at all."""

from __future__ import annotations

import tempfile
from pathlib import Path

from supervisor import git, sources
from supervisor.app import build_forge, github_client, item_store
from supervisor.chain import ACTIONABLE
from supervisor.ci import actions as ci_actions
from supervisor.ci import items as ci_items
from supervisor.ci import logs as ci_logs
from supervisor.ci import scan as ci_scan
from supervisor.config import Config
from supervisor.forge.base import Forge
from supervisor.github.auth import parse_target
from supervisor.github.forge import GitHubForge
from supervisor.home import Home
from supervisor.triage.classify import Signals

NEXT_STEP = {
    "new": "open a forge issue for it",
    "triaged": "approve it (a task or a labelled issue), or analyse it and ask for approval",
    "analyzed": "ask a maintainer for approval (or approve it: approval.mode auto)",
    "awaiting_approval": "read new comments and labels for an allowed person's approval",
    "approved": "dispatch the worker",
    "changes_requested": "dispatch the worker with the feedback",
    "fixing": "run the worker in its issue worktree",
    "verifying": "run the fast gate in the gate worktree",
    "reviewing": "ask the reviewer (or let the gates decide)",
    "publishing": "run the slow gate and record a pull request",
    "pr_open": "follow the pull request: reviews and checks as feedback, then the merge "
    "(local forge: fast-forward the base branch, after an approving review with approval.merge "
    "review)",
}


def plan(home: Home, cfg: Config) -> list[str]:
    lines: list[str] = []
    repo: Path | None = None
    if (home.mirror / "HEAD").exists():
        repo = home.mirror
        lines.append(f"would fetch {cfg.target} into {home.mirror}")
    else:
        lines.append(f"would clone {cfg.target} into {home.mirror}")
        if cfg.forge == "local":
            repo = cfg.target_path()
        else:
            lines.append("(the tasks file is read once the repository is cloned)")
    store = item_store(home)
    candidates: list[sources.Candidate] = []
    if cfg.sources.tasks.file and repo is not None:
        base = cfg.base_branch or git.default_branch(repo)
        text = git.show_file(repo, f"refs/heads/{base}", cfg.sources.tasks.file)
        if text is None:
            lines.append(f"no {cfg.sources.tasks.file} on {base}: no tasks")
        else:
            candidates += sources.parse_tasks(text, cfg.sources.tasks.file)
    if cfg.sources.issues.label:
        forge = _preview_forge(home, cfg)
        if forge is not None:
            candidates += sources.labelled_issues(forge, cfg.sources.issues.label, False)
    for c in candidates:
        if not store.path(c.id).exists():
            lines.append(f"would add {c.kind} {c.id}: {c.title}")
    for item in store.all():
        if item.state in ACTIONABLE:
            lines.append(f"would advance {item.id} ({item.state}): {NEXT_STEP[item.state]}")
    if len(lines) == 1:
        lines.append("nothing to do")
    return lines


def _preview_forge(home: Home, cfg: Config) -> Forge | None:
    if cfg.forge == "github":
        owner, name = parse_target(cfg.target)
        return GitHubForge(github_client(home, cfg, remember=False)[0], owner, name)
    return build_forge(home, cfg) if home.forge_dir.exists() else None


def _ci_plan(home: Home, refs: list[ci_logs.LogRef], signals: dict[str, Signals]) -> list[str]:
    store = item_store(home)
    findings, keys = ci_scan.collect(home, refs, signals)
    lines = [f"{len(keys)} CI log(s) not triaged before"]
    for finding in findings:
        f = finding.failure
        known = store.get(f.fingerprint)
        if known is not None:
            lines.append(f"would add an occurrence to {known.id} ({known.state}): {known.title}")
        elif f.category == "infra":
            lines.append(f"would record (not file) {f.fingerprint}: {ci_items.title(finding)}")
        else:
            lines.append(
                f"would file {f.fingerprint}: {ci_items.title(finding)} ({'; '.join(f.reasons)})"
            )
    return lines


def scan_plan(home: Home, cfg: Config) -> list[str]:
    """What `supervisor scan` would file: new tasks, issues and CI findings; writes nothing."""
    lines = [line for line in plan(home, cfg) if line.startswith(("would add", "no "))]
    refs, signals = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        if cfg.sources.ci.logs_dir:
            refs += ci_logs.folder_logs(cfg.path(cfg.sources.ci.logs_dir))
        if cfg.sources.ci.workflow and cfg.forge == "github":
            owner, name = parse_target(cfg.target)
            client = github_client(home, cfg, remember=False)[0]
            for source in ci_actions.sources(client, owner, name, cfg, home, Path(tmp)):
                more, found, _ = source.collect(ci_scan.seen(home))  # never advanced
                refs += more
                signals.update(found)
        if refs or cfg.sources.ci.logs_dir or cfg.sources.ci.workflow:
            lines += _ci_plan(home, refs, signals)
    if not lines:
        lines.append("nothing new to file")
    return lines
