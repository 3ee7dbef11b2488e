"""`supervisor cleanup`: remove the worktrees and branches of finished items."""

from __future__ import annotations

from pathlib import Path

from supervisor import git
from supervisor.app import item_store
from supervisor.config import Config
from supervisor.home import Home
from supervisor.workspace import Workspace


def cleanup(home: Home, cfg: Config, dry_run: bool) -> list[str]:
    """What was (or, with dry_run, would be) removed."""
    done: list[str] = []
    if not home.mirror.exists():
        return done
    ws = Workspace(home, cfg)
    for item in item_store(home).all():
        if not item.terminal or item.issue is None:
            continue
        path = home.issue_worktree(item.issue)
        has_branch = git.branch_exists(home.mirror, item.branch)
        if path.exists() or has_branch:
            done.append(f"{item.id} ({item.state}): {_rel(home, path)}, branch {item.branch}")
            if not dry_run:
                ws.remove_issue_worktree(item.issue)
    if not dry_run:
        git.git(home.mirror, "worktree", "prune", check=False)
    return done


def _rel(home: Home, path: Path) -> str:
    try:
        return str(path.relative_to(home.root))
    except ValueError:
        return str(path)
