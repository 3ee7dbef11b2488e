"""The workspace: the mirror, one issue worktree per item, and the gate worktree.

worktrees/mirror.git   git clone --mirror of the target, fetched at the start of each chain
worktrees/issue-<n>/   branch supervisor/issue-<n>: the only place a worker writes
worktrees/gate/        detached at an exact base SHA plus the candidate: only the supervisor's
                       gate commands run here
"""

from __future__ import annotations

import base64
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

from supervisor import git, shell
from supervisor.config import Config
from supervisor.errors import UserError
from supervisor.home import Home
from supervisor.ids import IssueNumber, Sha

log = logging.getLogger("supervisor.workspace")


@dataclass(frozen=True)
class Remote:
    """Where the target's repository is fetched from and branches are pushed to."""

    url: str
    token: str | None = None  # for https: sent as a header through the environment, never argv

    def git_env(self) -> dict[str, str]:
        if not self.token or not self.url.startswith("https://"):
            return {}
        basic = base64.b64encode(f"x-access-token:{self.token}".encode()).decode()
        host = self.url.split("/", 3)[2]
        return {
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": f"http.https://{host}/.extraheader",
            "GIT_CONFIG_VALUE_0": f"AUTHORIZATION: basic {basic}",
        }


class Workspace:
    def __init__(self, home: Home, cfg: Config, remote: Remote | None = None) -> None:
        self.home = home
        self.cfg = cfg
        self.remote = remote
        self.mirror = home.mirror
        self._base_branch: str | None = cfg.base_branch or None

    # -- the target and the mirror ------------------------------------------------------------

    def target_url(self) -> str:
        if self.remote is not None:
            return self.remote.url
        if self.cfg.forge == "local":
            path = self.cfg.target_path()
            if not git.is_repo(path):
                raise UserError(
                    f"target {path} is not a git repository: set 'target' in "
                    f"{self.home.config_file} to a local git repository"
                )
            return str(path)
        return self.cfg.target

    def local_target(self) -> Path | None:
        """The target as a local repository, when it is one."""
        path = self.cfg.target_path()
        return path if self.cfg.forge == "local" or path.exists() else None

    def ensure_mirror(self, fetch: bool = True) -> None:
        if not (self.mirror / "HEAD").exists():
            log.info("cloning the target into %s", self.mirror)
            self.home.worktrees.mkdir(parents=True, exist_ok=True)
            git.clone_mirror(self.target_url(), self.mirror, self._env())
        elif fetch:
            git.fetch(self.mirror, self._env())

    @property
    def base_branch(self) -> str:
        if self._base_branch is None:
            self._base_branch = git.default_branch(self.mirror)
        return self._base_branch

    def base_sha(self) -> Sha:
        sha = git.try_rev_parse(self.mirror, f"refs/heads/{self.base_branch}")
        if sha is None:
            raise UserError(
                f"the target has no branch '{self.base_branch}': set base_branch in "
                f"{self.home.config_file}"
            )
        return sha

    def remove_stale_locks(self) -> list[Path]:
        """Delete git lock files left in the mirror (and its worktrees) by a killed git.

        Only called under the home's lock after orphaned agents were killed, when no git process
        of ours can be running; the target's own repository is never touched.
        """
        removed = []
        if self.mirror.exists():
            for lock in self.mirror.rglob("*.lock"):
                if "objects" not in lock.relative_to(self.mirror).parts:
                    lock.unlink(missing_ok=True)
                    removed.append(lock)
        for lock in removed:
            log.warning("removed a stale git lock left by an interrupted run: %s", lock)
        return removed

    def outside_state(self, issue: IssueNumber) -> dict[str, str]:
        """What an agent working in issue-<n> must leave alone: the mirror's refs (its branch
        apart, which the supervisor commits to), the gate worktree, and a local target's
        branches. Compared before and after an agent run."""
        own = f"refs/heads/supervisor/issue-{issue}"
        refs = git.git(self.mirror, "for-each-ref", "--format=%(refname) %(objectname)").stdout
        state = {"mirror": "\n".join(r for r in refs.splitlines() if not r.startswith(own + " "))}
        if (self.home.gate / ".git").exists():
            state["gate"] = (
                git.git(self.home.gate, "rev-parse", "HEAD").stdout.strip()
                + "\n"
                + git.git(self.home.gate, "status", "--porcelain", "--untracked-files=all").stdout
            )
        target = self.local_target()
        if target is not None and git.is_repo(target):
            state["target"] = git.git(
                target, "for-each-ref", "--format=%(refname) %(objectname)", "refs/heads"
            ).stdout
        return state

    def restore_outside(self, issue: IssueNumber, before: dict[str, str]) -> None:
        """Put back what an agent changed outside its worktree where the supervisor owns it:
        the mirror's refs (moved ones reset, new ones deleted) and the gate worktree (a local
        target's branches are reported only)."""
        now = self.outside_state(issue)
        if before.get("mirror") != now.get("mirror"):
            old = dict(line.split(" ", 1) for line in before.get("mirror", "").splitlines() if line)
            for line in now.get("mirror", "").splitlines():
                ref, sha = line.split(" ", 1)
                if ref not in old:
                    git.git(self.mirror, "update-ref", "-d", ref, check=False)
                elif old[ref] != sha:
                    git.git(self.mirror, "update-ref", ref, old[ref], check=False)
        if "gate" in before and before["gate"] != now.get("gate"):
            head = before["gate"].split("\n", 1)[0]
            git.reset_clean(self.home.gate, head, ignored=True)

    def _env(self) -> dict[str, str]:
        return self.remote.git_env() if self.remote is not None else {}

    def push(self, branch: str, sha: str, expected: str | None) -> None:
        """Push sha to the remote's branch, only if the remote still has `expected` there (None:
        the branch must not exist yet). A push that already happened (a crash after pushing and
        before the state was saved) is recognised and not an error.
        """
        lease = f"--force-with-lease=refs/heads/{branch}:{expected or ''}"
        r = git.git(
            self.mirror,
            "push",
            "--quiet",
            "--porcelain",
            lease,
            "origin",
            f"{sha}:refs/heads/{branch}",
            check=False,
            env=self._env(),
        )
        if r.returncode == 0:
            return
        remote = git.git(
            self.mirror, "ls-remote", "origin", f"refs/heads/{branch}", check=False, env=self._env()
        ).stdout.split()
        if remote and remote[0] == sha:
            return
        raise UserError(
            f"could not push {branch} to {self.target_url()}: the branch there is at "
            f"{remote[0][:12] if remote else 'nothing'}, not {(expected or 'absent')[:12]} as "
            f"expected (someone else pushed to it?). {shell.tail(r.stderr.strip(), 500)}"
        )

    # -- issue worktrees ----------------------------------------------------------------------

    def issue_worktree(self, issue: IssueNumber, base_sha: Sha) -> Path:
        """The item's worktree on supervisor/issue-<n>, created at base_sha when new."""
        path = self.home.issue_worktree(issue)
        if (path / ".git").exists():
            return path
        branch = f"supervisor/issue-{issue}"
        if path.exists():  # a folder left by an interrupted `worktree add`
            shutil.rmtree(path)
        try:
            git.worktree_add(self.mirror, path, base_sha, branch=branch)
        except git.GitError:
            # The branch exists already (an earlier worktree was removed) or git still has the
            # path registered from before a crash: repair, then check out the branch as it is.
            git.git(self.mirror, "worktree", "prune", check=False)
            if path.exists():
                shutil.rmtree(path)
            if git.branch_exists(self.mirror, branch):
                git.worktree_add_existing_branch(self.mirror, path, branch)
            else:
                git.worktree_add(self.mirror, path, base_sha, branch=branch)
        self._copy_files(path)
        return path

    def remove_issue_worktree(self, issue: IssueNumber, delete_branch: bool = True) -> None:
        path = self.home.issue_worktree(issue)
        if path.exists():
            git.worktree_remove(self.mirror, path)
            if path.exists():
                shutil.rmtree(path)
        else:
            git.git(self.mirror, "worktree", "prune", check=False)
        if delete_branch:
            git.delete_branch(self.mirror, f"supervisor/issue-{issue}")

    # -- the gate worktree --------------------------------------------------------------------

    def gate_checkout(self, base_sha: Sha, head_sha: Sha | None = None) -> Path:
        """Reset the gate worktree to exactly base_sha, then apply the candidate head_sha on it.

        The candidate must descend from base_sha (the chain rebases it first when the base moved),
        so applying it is a fast-forward and the tree is exactly base + candidate.
        """
        return self._detached_checkout(self.home.gate, base_sha, head_sha)

    def analysis_checkout(self, base_sha: Sha, head_sha: Sha | None = None) -> Path:
        """The analyst's worktree, like the gate's but apart from it: only the supervisor
        ever runs anything in the gate worktree."""
        return self._detached_checkout(self.home.analysis, base_sha, head_sha)

    def _detached_checkout(self, path: Path, base_sha: Sha, head_sha: Sha | None) -> Path:
        if not (path / ".git").exists():
            if path.exists():
                shutil.rmtree(path)
            git.git(self.mirror, "worktree", "prune", check=False)
            git.worktree_add(self.mirror, path, base_sha)
        if git.in_progress_operation(path):
            git.git(path, "merge", "--abort", check=False)
        git.checkout_detached(path, base_sha)
        git.reset_clean(path, base_sha, ignored=True)
        if head_sha and head_sha != base_sha:
            if not git.is_ancestor(path, base_sha, head_sha):
                raise UserError(
                    f"candidate {head_sha[:12]} does not descend from base "
                    f"{base_sha[:12]}: it must be rebased before it is verified"
                )
            git.merge_ff_only(path, head_sha)
        self._copy_files(path)
        return path

    def _copy_files(self, dest: Path) -> None:
        source = self.local_target()
        if source is None:
            return
        for name in self.cfg.workspace.copy_files:
            src = source / name
            if src.is_file():
                (dest / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dest / name)
            else:
                log.warning(
                    "workspace.copy_files: %s does not exist in the target; not copied", src
                )
