"""Small named git queries and commands, each failing with a message that says what to do."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from supervisor import shell
from supervisor.errors import UserError
from supervisor.ids import Sha

MIN_VERSION = (2, 30)  # negative refspecs (2.29) and stable worktree porcelain
# Identity used for the supervisor's own commits when the repository has none configured.
IDENTITY = ("supervisor", "supervisor@localhost")


class GitError(UserError):
    def __init__(self, what: str, error: shell.CommandError, remedy: str = "") -> None:
        self.result = error.result
        text = f"git could not {what}: {error}"
        if remedy:
            text += f"\n  fix: {remedy}"
        super().__init__(text)


def git(
    repo: Path,
    *args: str,
    check: bool = True,
    input: str | None = None,
    timeout: float | None = 600,
    env: dict[str, str] | None = None,
) -> shell.CmdResult:
    return shell.run(
        ["git", "-C", str(repo), *args],
        check=check,
        input=input,
        timeout=timeout,
        env={"LC_ALL": "C", **(env or {})},
    )


def _out(repo: Path, *args: str, what: str, remedy: str = "") -> str:
    try:
        return git(repo, *args).stdout.strip()
    except shell.CommandError as e:
        raise GitError(what, e, remedy) from e


def version() -> tuple[int, int]:
    try:
        out = shell.run(["git", "--version"], quiet=True).stdout
    except shell.CommandError as e:
        raise UserError(f"git is not installed or does not run: {e}") from e
    m = re.search(r"(\d+)\.(\d+)", out)
    if not m:
        raise UserError(f"could not read the git version from {out!r}")
    return int(m.group(1)), int(m.group(2))


def is_repo(path: Path) -> bool:
    if not path.exists():
        return False
    return git(path, "rev-parse", "--git-dir", check=False).returncode == 0


def is_bare(path: Path) -> bool:
    return _out(path, "rev-parse", "--is-bare-repository", what="inspect the repository") == "true"


def rev_parse(repo: Path, rev: str) -> Sha:
    return Sha(
        _out(
            repo,
            "rev-parse",
            "--verify",
            "--quiet",
            f"{rev}^{{commit}}",
            what=f"find {rev}",
            remedy=f"check that {rev} exists in {repo}",
        )
    )


def try_rev_parse(repo: Path, rev: str) -> Sha | None:
    r = git(repo, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", check=False)
    return Sha(r.stdout.strip()) if r.returncode == 0 else None


def default_branch(repo: Path) -> str:
    """The branch HEAD points at (a mirror's HEAD is the origin's default branch)."""
    ref = _out(
        repo,
        "symbolic-ref",
        "--quiet",
        "HEAD",
        what="read HEAD",
        remedy="set base_branch in supervisor.yaml",
    )
    return ref.removeprefix("refs/heads/")


# -- the mirror ---------------------------------------------------------------------------------

MIRROR_REFSPECS = (
    "+refs/heads/*:refs/heads/*",
    "^refs/heads/supervisor/*",
    "+refs/tags/*:refs/tags/*",
)


def clone_mirror(url: str, dest: Path, env: dict[str, str] | None = None) -> None:
    """git clone --mirror, then fetch only branches and tags, never our own supervisor/* branches
    (they are checked out in issue worktrees and must not be overwritten by a fetch)."""
    tmp = dest.with_name(dest.name + ".partial")
    if tmp.exists():
        import shutil

        shutil.rmtree(tmp)
    try:
        shell.run(
            ["git", "clone", "--mirror", "--quiet", url, str(tmp)],
            timeout=3600,
            env={"LC_ALL": "C", **(env or {})},
        )
    except shell.CommandError as e:
        raise GitError(f"clone {url}", e, "check that the target exists and is readable") from e
    # Keep branches and tags only: not GitHub's refs/pull/*, and not the target's own
    # supervisor/* branches (e.g. pushed by another machine): those are not this mirror's.
    refs = git(tmp, "for-each-ref", "--format=%(refname)").stdout.split()
    stale = [
        r
        for r in refs
        if r.startswith("refs/heads/supervisor/") or not r.startswith(("refs/heads/", "refs/tags/"))
    ]
    if stale:
        git(tmp, "update-ref", "--stdin", input="".join(f"delete {r}\n" for r in stale))
    git(tmp, "config", "--unset-all", "remote.origin.fetch")
    # A mirror remote refuses pushes of single branches; ours pushes supervisor/* branches.
    git(tmp, "config", "--unset", "remote.origin.mirror", check=False)
    for spec in MIRROR_REFSPECS:
        git(tmp, "config", "--add", "remote.origin.fetch", spec)
    tmp.rename(dest)


def fetch(mirror: Path, env: dict[str, str] | None = None) -> None:
    try:
        git(mirror, "fetch", "--quiet", "--prune", "origin", timeout=3600, env=env)
    except shell.CommandError as e:
        raise GitError(
            "fetch the target into the mirror",
            e,
            "check that the target is reachable; the next chain tries again",
        ) from e


# -- worktrees ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Worktree:
    path: Path
    head: str
    branch: str | None
    bare: bool = False
    prunable: bool = False


def list_worktrees(repo: Path) -> list[Worktree]:
    """Parse `git worktree list --porcelain`."""
    out = _out(repo, "worktree", "list", "--porcelain", what="list worktrees")
    result: list[Worktree] = []
    for block in out.split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            key, _, value = line.partition(" ")
            fields[key] = value
        if "worktree" not in fields:
            continue
        branch = fields.get("branch")
        result.append(
            Worktree(
                Path(fields["worktree"]),
                fields.get("HEAD", ""),
                branch.removeprefix("refs/heads/") if branch else None,
                bare="bare" in fields,
                prunable="prunable" in fields,
            )
        )
    return result


def worktree_add(repo: Path, path: Path, start: str, branch: str | None = None) -> None:
    """Add a worktree at path: on a new branch at start, or detached at start."""
    args = ["worktree", "add", "--quiet"]
    args += ["-b", branch, str(path), start] if branch else ["--detach", str(path), start]
    _out(
        repo,
        *args,
        what=f"create the worktree {path}",
        remedy="run `supervisor cleanup` to remove stale worktrees, then start again",
    )


def worktree_add_existing_branch(repo: Path, path: Path, branch: str) -> None:
    _out(
        repo,
        "worktree",
        "add",
        "--quiet",
        str(path),
        branch,
        what=f"create the worktree {path} on {branch}",
        remedy="run `supervisor cleanup` to remove stale worktrees, then start again",
    )


def worktree_remove(repo: Path, path: Path) -> None:
    git(repo, "worktree", "remove", "--force", "--force", str(path), check=False)
    git(repo, "worktree", "prune", check=False)


def branch_exists(repo: Path, branch: str) -> bool:
    return try_rev_parse(repo, f"refs/heads/{branch}") is not None


def delete_branch(repo: Path, branch: str) -> None:
    git(repo, "branch", "-D", branch, check=False)


# -- working in a worktree ----------------------------------------------------------------------


def status(worktree: Path) -> str:
    return _out(worktree, "status", "--porcelain", "--untracked-files=all", what="read the status")


def reset_clean(worktree: Path, rev: str = "HEAD", ignored: bool = False) -> None:
    """Discard every change: reset --hard to rev and remove untracked files (and ignored ones)."""
    _out(worktree, "reset", "--quiet", "--hard", rev, what=f"reset {worktree} to {rev}")
    _out(worktree, "clean", "-ffdq" + ("x" if ignored else ""), what=f"clean {worktree}")


def checkout_detached(worktree: Path, rev: str) -> None:
    _out(worktree, "checkout", "--quiet", "--force", "--detach", rev, what=f"check out {rev}")


def in_progress_operation(worktree: Path) -> str | None:
    """A rebase, merge, cherry-pick or revert left unfinished in the worktree, if any."""
    git_dir = Path(_out(worktree, "rev-parse", "--absolute-git-dir", what="find the git dir"))
    for name, what in (
        ("rebase-merge", "rebase"),
        ("rebase-apply", "rebase"),
        ("MERGE_HEAD", "merge"),
        ("CHERRY_PICK_HEAD", "cherry-pick"),
        ("REVERT_HEAD", "revert"),
    ):
        if (git_dir / name).exists():
            return what
    return None


def has_identity(repo: Path) -> bool:
    return git(repo, "config", "user.email", check=False).returncode == 0


def commit_all(worktree: Path, message: str) -> Sha | None:
    """Stage everything and commit; None when there was nothing to commit."""
    _out(worktree, "add", "--all", what="stage the changes")
    if git(worktree, "diff", "--cached", "--quiet", check=False).returncode == 0:
        return None
    ident: list[str] = []
    if not has_identity(worktree):
        ident = ["-c", f"user.name={IDENTITY[0]}", "-c", f"user.email={IDENTITY[1]}"]
    try:
        shell.run(
            ["git", "-C", str(worktree), *ident, "commit", "--quiet", "--no-verify", "-F", "-"],
            input=message,
            env={"LC_ALL": "C"},
        )
    except shell.CommandError as e:
        raise GitError("commit the change", e) from e
    return rev_parse(worktree, "HEAD")


def head_message(worktree: Path, rev: str = "HEAD") -> str:
    return _out(worktree, "log", "-1", "--format=%B", rev, what="read the commit message")


def diff(repo: Path, base: str, head: str, stat: bool = False) -> str:
    args = ["diff", "--stat" if stat else "--patch", f"{base}..{head}"]
    return _out(repo, *args, what=f"diff {base}..{head}")


def is_ancestor(repo: Path, ancestor: str, descendant: str) -> bool:
    r = git(repo, "merge-base", "--is-ancestor", ancestor, descendant, check=False)
    if r.returncode not in (0, 1):
        raise GitError(f"compare {ancestor} and {descendant}", shell.CommandError(r))
    return r.returncode == 0


def rebase(worktree: Path, onto: str) -> bool:
    """Rebase the checked-out branch onto onto; on conflict abort and return False."""
    r = git(worktree, "rebase", "--quiet", onto, check=False)
    if r.returncode != 0:
        git(worktree, "rebase", "--abort", check=False)
        return False
    return True


def merge_ff_only(worktree: Path, rev: str) -> None:
    _out(
        worktree,
        "merge",
        "--quiet",
        "--ff-only",
        rev,
        what=f"fast-forward to {rev}",
        remedy="the target's working tree may have local changes: commit or stash them",
    )


def update_ref(repo: Path, ref: str, new: str, old: str) -> None:
    _out(repo, "update-ref", ref, new, old, what=f"move {ref} to {new}")


def changed_paths(repo: Path, sha: str) -> list[str] | None:
    """The files the commit sha changed against its first parent; None when sha is unknown."""
    r = git(
        repo,
        "diff-tree",
        "--no-commit-id",
        "--name-only",
        "-r",
        "--root",
        "-m",
        "--first-parent",
        sha,
        check=False,
    )
    return sorted(set(r.stdout.split())) if r.returncode == 0 else None


def show_file(repo: Path, rev: str, path: str) -> str | None:
    r = git(repo, "show", f"{rev}:{path}", check=False)
    return r.stdout if r.returncode == 0 else None
