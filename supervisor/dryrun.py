"""`supervisor start --dry-run`: what a chain would do now, changing nothing at all."""

from __future__ import annotations

from pathlib import Path

from supervisor import git, sources
from supervisor.app import build_forge, item_store
from supervisor.chain import ACTIONABLE
from supervisor.config import Config
from supervisor.home import Home

NEXT_STEP = {
    "new": "open a forge issue for it",
    "triaged": "approve it (tasks and local-forge issues need no other approval)",
    "approved": "dispatch the worker",
    "changes_requested": "dispatch the worker with the feedback",
    "fixing": "run the worker in its issue worktree",
    "verifying": "run the fast gate in the gate worktree",
    "reviewing": "ask the reviewer (or let the gates decide)",
    "publishing": "run the slow gate and record a pull request",
    "pr_open": "fast-forward the target's base branch to the verified change",
}


def plan(home: Home, cfg: Config) -> list[str]:
    lines: list[str] = []
    if (home.mirror / "HEAD").exists():
        repo: Path = home.mirror
        lines.append(f"would fetch {cfg.target} into {home.mirror}")
    else:
        repo = cfg.target_path()
        lines.append(f"would clone {cfg.target} into {home.mirror}")
    base = cfg.base_branch or git.default_branch(repo)
    store = item_store(home)
    candidates: list[sources.Candidate] = []
    if cfg.sources.tasks.file:
        text = git.show_file(repo, f"refs/heads/{base}", cfg.sources.tasks.file)
        if text is None:
            lines.append(f"no {cfg.sources.tasks.file} on {base}: no tasks")
        else:
            candidates += sources.parse_tasks(text, cfg.sources.tasks.file)
    if cfg.sources.issues.label and home.forge_dir.exists():
        candidates += sources.labelled_issues(build_forge(home, cfg), cfg.sources.issues.label)
    for c in candidates:
        if not store.path(c.id).exists():
            lines.append(f"would add {c.kind} {c.id}: {c.title}")
    for item in store.all():
        if item.state in ACTIONABLE:
            lines.append(f"would advance {item.id} ({item.state}): {NEXT_STEP[item.state]}")
    if len(lines) == 1:
        lines.append("nothing to do")
    return lines


def scan_plan(home: Home, cfg: Config) -> list[str]:
    """What `supervisor scan` would file: new tasks, issues and CI findings; writes nothing."""
    lines = [line for line in plan(home, cfg) if line.startswith(("would add", "no "))]
    if cfg.sources.ci.logs_dir:
        from supervisor.ci import items as ci_items
        from supervisor.ci import logs as ci_logs
        from supervisor.ci import scan as ci_scan

        folder = Path(cfg.sources.ci.logs_dir).expanduser()
        folder = folder if folder.is_absolute() else cfg.source_dir / folder
        store = item_store(home)
        findings, keys = ci_scan.collect(home, ci_logs.folder_logs(folder))
        lines.append(f"{len(keys)} CI log(s) not triaged before")
        for finding in findings:
            f = finding.failure
            known = store.get(f.fingerprint)
            if known is not None:
                lines.append(
                    f"would add an occurrence to {known.id} ({known.state}): {known.title}"
                )
            elif f.category == "infra":
                lines.append(f"would record (not file) {f.fingerprint}: {ci_items.title(finding)}")
            else:
                lines.append(
                    f"would file {f.fingerprint}: {ci_items.title(finding)} "
                    f"({'; '.join(f.reasons)})"
                )
    if not lines:
        lines.append("nothing new to file")
    return lines
