"""The landing steps (local forge): slow gate, pull request record, fast-forward, rebase."""

from __future__ import annotations

from supervisor import git, land
from supervisor.fixing import FixSteps
from supervisor.forge.base import marker
from supervisor.ids import Sha
from supervisor.items import Item, now_utc
from supervisor.results import write_result
from supervisor.steps import CHECKOFF


class LandSteps(FixSteps):
    """Builds on the fixing steps: the slow gate runs like the fast one."""

    # -- publish and land (local forge) -------------------------------------------------------

    def publish(self, item: Item) -> None:
        assert item.head_sha and item.verified is not None
        if item.verified.get("slow") != item.head_sha:
            if self._gate(item, "slow", self.cfg.gate.slow) is None:
                return
            item.verified["slow"] = item.head_sha
            self.d.items.save(item)
        remote = self.d.forge.name != "local"
        if remote:  # the branch goes to the forge; a maintainer merges it there
            self.d.workspace.push(item.branch, item.head_sha, item.pushed_sha)
            item.pushed_sha = item.head_sha
            self.d.items.save(item)
        pull = self.d.forge.find_pull(item.branch)
        if pull is None or pull.state != "open":
            pull = self.d.forge.create_pull(
                item.title,
                self._pull_body(item),
                item.branch,
                self.d.workspace.base_branch,
                draft=remote,
            )
        item.pull = pull.number
        self.d.items.transition(item, "pr_open", f"pull request #{pull.number} ({pull.url})")

    def _pull_body(self, item: Item) -> str:
        att = item.current_attempt() or {}
        gates = att.get("gate", {})
        lines = [f"Closes #{item.issue}.", "", "## Verification", ""]
        for level, g in gates.items():
            for c in g["commands"]:
                lines.append(
                    f"- {level} gate: `{c['command']}`: exit {c['exit_code']} ({c['duration_s']}s)"
                )
            if not g["commands"]:
                lines.append(f"- {level} gate: no commands configured")
        lines += [
            "",
            f"Base: `{item.base_sha}`, head: `{item.head_sha}` (proven on exactly "
            "this base in a clean worktree).",
            "",
            marker(item.id, "pull"),
            "",
        ]
        return "\n".join(lines)

    def follow(self, item: Item) -> None:
        if self.d.forge.name != "local":
            self._follow_remote(item)
            return
        self._land_locally(item)

    def _follow_remote(self, item: Item) -> None:
        """A forge where people merge: notice the merge or the closing of the pull request."""
        assert item.pull is not None and item.issue is not None
        pull = self.d.forge.get_pull(item.pull)
        if pull.state == "open":
            return  # reviews and checks are followed by a later version
        att = item.current_attempt()
        assert att is not None
        if pull.state == "closed":
            att.update(status="failed", failure_reason="closed_unmerged", ended_at=now_utc())
            write_result(self.d.home, item, self.d.workspace.base_branch, pr_url=pull.url)
            self.d.items.transition(
                item, "closed_wontfix", f"pull request #{pull.number} was closed without merging"
            )
            return
        self.d.forge.comment(
            item.issue, f"Merged in pull request #{pull.number}.\n\n{marker(item.id, 'merged')}\n"
        )
        self.d.forge.close_issue(item.issue, "merged")
        att.update(status="succeeded", ended_at=now_utc())
        write_result(self.d.home, item, self.d.workspace.base_branch, pr_url=pull.url)
        self.d.items.transition(
            item,
            "merged",
            f"pull request #{pull.number} was merged"
            + (f" as {pull.merged_sha[:12]}" if pull.merged_sha else ""),
        )
        self.d.workspace.remove_issue_worktree(item.issue)

    def _land_locally(self, item: Item) -> None:
        """Local forge: land the verified candidate by fast-forward, exactly once."""
        assert item.head_sha and item.base_sha and item.pull is not None
        target = self.cfg.target_path()
        base = self.d.workspace.base_branch
        if not land.contains(target, base, item.head_sha):
            current = land.target_base_sha(target, base)
            if current != item.base_sha:
                raise land.BaseMoved(f"{base} moved from {item.base_sha[:12]} to {current[:12]}")
            land.fast_forward(
                target,
                self.d.workspace.mirror,
                base,
                item.branch,
                Sha(item.head_sha),
                Sha(item.base_sha),
            )
        self.d.forge.mark_pull_merged(item.pull, item.head_sha)
        assert item.issue is not None
        self.d.forge.comment(
            item.issue,
            f"Merged {item.head_sha[:12]} into {base} "
            f"(pull request #{item.pull}).\n\n"
            f"{marker(item.id, 'merged')}\n",
        )
        self.d.forge.close_issue(item.issue, "merged")
        att = item.current_attempt()
        assert att is not None
        att.update(status="succeeded", ended_at=now_utc())
        write_result(self.d.home, item, base, pr_url=self.d.forge.get_pull(item.pull).url)
        self.d.items.transition(item, "merged", f"fast-forwarded {base} to {item.head_sha[:12]}")
        self.d.workspace.remove_issue_worktree(item.issue)
        # The next item starts from the base that now includes this change, not a stale one.
        self.d.workspace.ensure_mirror(fetch=True)

    def _rebase(self, item: Item, why: str) -> None:
        """The base moved after verification: rebase the candidate and prove it again."""
        assert item.issue is not None
        self.d.workspace.ensure_mirror(fetch=True)
        new_base = self.d.workspace.base_sha()
        wt = self.d.workspace.issue_worktree(item.issue, new_base)
        if git.in_progress_operation(wt):  # a rebase interrupted by a crash
            git.git(wt, "rebase", "--abort", check=False)
        if CHECKOFF in git.head_message(wt):  # redone on top after the rebase, see _seal
            git.reset_clean(wt, "HEAD~1")
        if not git.rebase(wt, new_base):
            git.reset_clean(wt, new_base)
            item.base_sha, item.head_sha, item.verified = new_base, None, None
            if item.state == "pr_open":
                self.d.items.transition(item, "changes_requested", f"{why}; rebase conflicted")
            self._fail_attempt(
                item,
                "rebase_conflict",
                f"{why}; the change no longer applies",
                f"The base branch moved to {new_base[:12]} and the previous change "
                "conflicted with it; make the change again on the new base.",
            )
            return
        item.base_sha, item.head_sha, item.verified = new_base, self._seal(item, wt), None
        att = item.current_attempt()
        if att is not None:
            att.update(base_sha=new_base, head_sha=item.head_sha)
        self.d.items.transition(item, "verifying", f"{why}; rebased onto {new_base[:12]}")
