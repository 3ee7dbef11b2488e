"""Landing a verified change in a local target: a fast-forward of its base branch, nothing else."""

from __future__ import annotations

import logging
from pathlib import Path

import psutil

from supervisor import git, shell
from supervisor.errors import UserError
from supervisor.ids import Sha

log = logging.getLogger("supervisor.land")


class BaseMoved(Exception):
    """The target's base branch moved after verification: rebase and verify again."""


def target_base_sha(target: Path, base_branch: str) -> Sha:
    sha = git.try_rev_parse(target, f"refs/heads/{base_branch}")
    if sha is None:
        raise UserError(f"the target {target} has no branch '{base_branch}'")
    return sha


def contains(target: Path, base_branch: str, sha: str) -> bool:
    """Whether sha is already part of the target's base branch (e.g. merged before a crash)."""
    if git.try_rev_parse(target, sha) is None:
        return False
    return git.is_ancestor(target, sha, f"refs/heads/{base_branch}")


def _git_running_in(repo: Path) -> bool:
    """Whether any git process works in repo (its cwd, or a path argument, inside it)."""
    where = str(repo.resolve())
    for p in psutil.process_iter(["name", "cwd", "cmdline"]):
        try:
            if p.info["name"] != "git":
                continue
            if str(p.info["cwd"] or "").startswith(where):
                return True
            if any(str(a).startswith(where) for a in p.info["cmdline"] or []):
                return True
        except psutil.Error:
            continue
    return False


def clear_stale_locks(target: Path, base_branch: str) -> list[Path]:
    """Remove git lock files a killed landing left in the target, when no git runs there.

    A lock only lives as long as the git process that made it: with none running in the target,
    a lock is stale (git's own advice is to remove it). A kill -9 during our `merge --ff-only`
    would otherwise block every later landing.
    """
    git_dir = Path(git.git(target, "rev-parse", "--absolute-git-dir").stdout.strip())
    common = Path(
        git.git(target, "rev-parse", "--path-format=absolute", "--git-common-dir").stdout.strip()
    )
    dirs = [git_dir, common, *(common / "worktrees").glob("*")]
    candidates = [d / name for d in dirs for name in ("index.lock", "HEAD.lock")]
    candidates += [common / "packed-refs.lock", common / "refs" / "heads" / f"{base_branch}.lock"]
    present = [p for p in candidates if p.exists()]
    if not present or _git_running_in(target):
        return []
    for lock in present:
        lock.unlink(missing_ok=True)
        log.warning("removed a stale git lock in the target (no git process runs there): %s", lock)
    return present


def fast_forward(
    target: Path, mirror: Path, base_branch: str, branch: str, head: Sha, expected_base: Sha
) -> None:
    """Move the target's base branch from expected_base to head, fast-forward only.

    The candidate is fetched from the mirror; if the base branch is checked out in a worktree of
    the target, that worktree is fast-forwarded (`merge --ff-only`, which keeps the user's
    uncommitted changes or refuses); otherwise the ref is moved with a compare-and-swap.
    """
    clear_stale_locks(target, base_branch)
    try:
        git.git(target, "fetch", "--quiet", "--no-tags", str(mirror), f"refs/heads/{branch}")
    except shell.CommandError as e:
        raise UserError(f"could not fetch {branch} from the mirror into {target}: {e}") from e
    fetched = git.rev_parse(target, "FETCH_HEAD")
    if fetched != head:
        raise UserError(
            f"{branch} in the mirror is at {fetched[:12]}, not the verified "
            f"{head[:12]}; it will be verified again"
        )
    if not git.is_ancestor(target, expected_base, head):
        raise UserError(
            f"{head[:12]} does not descend from {expected_base[:12]}: not a fast-forward"
        )
    checked_out = [w for w in git.list_worktrees(target) if w.branch == base_branch and not w.bare]
    if checked_out:
        wt = checked_out[0].path
        current = git.rev_parse(wt, "HEAD")
        if current != expected_base:
            raise BaseMoved(f"{base_branch} moved to {current[:12]} while landing")
        git.merge_ff_only(wt, head)
    else:
        current = target_base_sha(target, base_branch)
        if current != expected_base:
            raise BaseMoved(f"{base_branch} moved to {current[:12]} while landing")
        git.update_ref(target, f"refs/heads/{base_branch}", head, expected_base)
