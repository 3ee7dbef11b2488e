"""The real bare git repositories behind the fake's repositories: queries and merges.

Merges use plumbing only (``git merge-tree --write-tree``, ``commit-tree``, ``update-ref``), so no
worktree is needed and the bare repository moves exactly as GitHub's merge button moves it.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

GIT_TIMEOUT = 30


class MergeConflict(Exception):
    """The head does not merge cleanly into the base."""


class NotFastForward(Exception):
    """A rebase merge was asked for where the fake can only fast-forward."""


def _git(git_dir: Path, *args: str, check: bool = True, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        ["git", "--git-dir", str(git_dir), *args],
        capture_output=True,
        text=True,
        timeout=GIT_TIMEOUT,
        check=False,
        env={**os.environ, "GIT_TERMINAL_PROMPT": "0", **(env or {})},
    )
    if check and result.returncode != 0:
        raise RuntimeError(
            f"fake github: git {' '.join(args)} failed ({result.returncode}): {result.stderr}"
        )
    return result.stdout.strip()


def rev_parse(git_dir: Path, ref: str) -> str | None:
    """The commit SHA ``ref`` names (a branch, tag or SHA), or None when there is none."""
    if ref.startswith("-"):
        return None
    for candidate in (f"refs/heads/{ref}", ref):
        out = _git(
            git_dir, "rev-parse", "--verify", "--quiet", f"{candidate}^{{commit}}", check=False
        )
        if out:
            return out
    return None


def branch_sha(git_dir: Path, branch: str) -> str | None:
    if branch.startswith("-"):
        return None
    out = _git(git_dir, "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}", check=False)
    return out or None


def ref_sha(git_dir: Path, ref: str) -> str | None:
    """What the full ref ``refs/...`` points at, or None when there is no such ref."""
    if not ref.startswith("refs/"):
        return None
    out = _git(git_dir, "show-ref", "--verify", "--hash", ref, check=False)
    return out or None


def delete_ref(git_dir: Path, ref: str, old: str) -> None:
    """Delete the full ref ``refs/...`` if it still points at ``old``."""
    _git(git_dir, "update-ref", "-d", ref, old)


def is_ancestor(git_dir: Path, ancestor: str, descendant: str) -> bool:
    result = subprocess.run(
        ["git", "--git-dir", str(git_dir), "merge-base", "--is-ancestor", ancestor, descendant],
        capture_output=True,
        timeout=GIT_TIMEOUT,
        check=False,
    )
    return result.returncode == 0


def diff_stats(git_dir: Path, base: str, head: str) -> tuple[int, int, int, int]:
    """(commits, additions, deletions, changed files) of ``head`` since it left ``base``."""
    commits = int(_git(git_dir, "rev-list", "--count", f"{base}..{head}") or 0)
    additions = deletions = files = 0
    for line in _git(git_dir, "diff", "--numstat", f"{base}...{head}").splitlines():
        added, deleted, _ = line.split("\t", 2)
        files += 1
        additions += int(added) if added.isdigit() else 0
        deletions += int(deleted) if deleted.isdigit() else 0
    return commits, additions, deletions, files


def commit_info(git_dir: Path, sha: str) -> dict[str, str] | None:
    """Tree, message and author of a commit, or None when the repository does not have it."""
    out = _git(
        git_dir, "show", "-s", "--format=%T%x00%an%x00%ae%x00%cn%x00%ce%x00%B", sha, check=False
    )
    if not out:
        return None
    tree, author, email, committer, committer_email, message = out.split("\0", 5)
    return {
        "tree": tree,
        "author": author,
        "email": email,
        "committer": committer,
        "committer_email": committer_email,
        "message": message.strip(),
    }


def _identity(name: str) -> dict[str, str]:
    email = f"{name}@users.noreply.github.com"
    return {
        "GIT_AUTHOR_NAME": name,
        "GIT_AUTHOR_EMAIL": email,
        "GIT_COMMITTER_NAME": "GitHub",
        "GIT_COMMITTER_EMAIL": "noreply@github.com",
    }


def merges_cleanly(git_dir: Path, base: str, head: str) -> bool:
    """Whether ``head`` merges into ``base`` without conflicts (nothing is written but objects)."""
    result = subprocess.run(
        ["git", "--git-dir", str(git_dir), "merge-tree", "--write-tree", base, head],
        capture_output=True,
        timeout=GIT_TIMEOUT,
        check=False,
    )
    return result.returncode == 0


def merge(git_dir: Path, base: str, head_sha: str, method: str, message: str, actor: str) -> str:
    """Merge ``head_sha`` into branch ``base`` by GitHub's ``method``; the new tip of ``base``.

    ``merge``: a merge commit, always (GitHub's merge button never fast-forwards). ``squash``: one
    new commit whose tree is the merge result. ``rebase``: a fast-forward when ``base`` is an
    ancestor of the head (otherwise ``NotFastForward``: the fake does not replay commits).
    """
    old = branch_sha(git_dir, base)
    if old is None:
        raise RuntimeError(f"fake github: base branch {base} is missing from {git_dir}")
    if method == "rebase":
        if not is_ancestor(git_dir, old, head_sha):
            raise NotFastForward(base)
        new = head_sha
    else:
        result = subprocess.run(
            ["git", "--git-dir", str(git_dir), "merge-tree", "--write-tree", old, head_sha],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT,
            check=False,
        )
        if result.returncode == 1:
            raise MergeConflict(base)
        if result.returncode != 0:
            raise RuntimeError(f"fake github: git merge-tree failed: {result.stderr}")
        tree = result.stdout.split("\n", 1)[0].strip()
        parents = ["-p", old] if method == "squash" else ["-p", old, "-p", head_sha]
        new = _git(git_dir, "commit-tree", tree, *parents, "-m", message, env=_identity(actor))
    _git(git_dir, "update-ref", f"refs/heads/{base}", new, old)
    return new
