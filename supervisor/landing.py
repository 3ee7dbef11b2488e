"""The landing steps (local forge): slow gate, pull request record, fast-forward, rebase."""

from __future__ import annotations

from supervisor import feedback, git, land
from supervisor.conversation import ConversationSteps, agent_text
from supervisor.fixing import repro_lines
from supervisor.forge.base import Pull, marker
from supervisor.forge.local import LocalForge
from supervisor.ids import Sha
from supervisor.items import Item, now_utc
from supervisor.results import write_result
from supervisor.steps import CHECKOFF, log


class LandSteps(ConversationSteps):
    """Builds on the fixing steps (the slow gate runs like the fast one) and the conversation
    (who may review)."""

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
        body = self._pull_body(item)
        pull = self.d.forge.find_pull(item.branch)
        if pull is None or pull.state != "open":
            pull = self.d.forge.create_pull(
                item.title, body, item.branch, self.d.workspace.base_branch, draft=remote
            )
        elif pull.body != body:  # a further round: the evidence is the new head's
            self.d.forge.update_pull_body(pull.number, body)
        if isinstance(self.d.forge, LocalForge):  # what a local review is a review of
            self.d.forge.set_pull_head(pull.number, item.head_sha)
        item.pull = pull.number
        item.feedback = ""
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
        repro = repro_lines(item, att)
        if repro:
            lines += ["", "## The flaky test, stress-run", "", *repro]
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
        assert item.pull is not None and item.issue is not None
        remote = self.d.forge.name != "local"
        if remote or self.cfg.approval.merge == "review":
            pull = self.d.forge.get_pull(item.pull)
            if pull.state == "closed":
                self._closed_unmerged(item, pull)
                return
            if pull.state == "merged" and remote:
                self._merged_remotely(item, pull)
                return
            self._report_round(item)
            fb = feedback.collect(self.d.forge, self.people, item, pull)
            item.conversation.update(fb.marks)
            if fb.approved_by:
                item.conversation["merge_approved"] = {"by": fb.approved_by, "sha": item.head_sha}
            if fb.parts:
                self._feedback_round(item, fb)
                return
            self.d.items.save(item)
            if remote:
                return  # a maintainer merges; a later chain sees it
            if item.conversation.get("merge_approved", {}).get("sha") != item.head_sha:
                return  # approval.merge: review, and no allowed person approved this head yet
        self._land_locally(item)

    def _closed_unmerged(self, item: Item, pull: Pull) -> None:
        att = item.current_attempt()
        assert att is not None
        att.update(status="failed", failure_reason="closed_unmerged", ended_at=now_utc())
        write_result(self.d.home, item, self.d.workspace.base_branch, pr_url=pull.url)
        people = self.people
        said = [  # the reason, as far as the maintainers gave one: their last word
            c
            for c in self.d.forge.list_comments(pull.number)
            if not people.own(c) and people.allowed(c.author, c.author_association)
        ]
        why = f"; @{said[-1].author} wrote: {said[-1].body.strip()[:300]}" if said else ""
        item.conversation["closed"] = {"at": now_utc(), "last_word": why}
        self.d.items.transition(
            item, "closed_wontfix", f"pull request #{pull.number} was closed without merging{why}"
        )

    def _merged_remotely(self, item: Item, pull: Pull) -> None:
        """A maintainer merged the pull request."""
        self._merged(
            item,
            f"Merged in pull request #{pull.number}.",
            pull.url,
            f"pull request #{pull.number} was merged"
            + (f" as {pull.merged_sha[:12]}" if pull.merged_sha else ""),
            pull.merged_sha or "",
        )

    def _merged(self, item: Item, said: str, pr_url: str, reason: str, sha: str) -> None:
        """The change is in the base branch: say so on the issue, close it, record the result,
        clean up, and only then mark the item merged. After a crash in between, follow() sees
        the merge again and repeats these; each is a no-op the second time."""
        assert item.issue is not None
        att = item.current_attempt()
        assert att is not None
        self.d.forge.comment(item.issue, f"{said}\n\n{marker(item.id, 'merged')}\n")
        self.d.forge.close_issue(item.issue, "merged")
        att.update(status="succeeded", ended_at=now_utc())
        write_result(self.d.home, item, self.d.workspace.base_branch, pr_url=pr_url)
        self.d.forge.delete_branch(item.branch)  # the forge's copy (a no-op on the local forge)
        self.d.workspace.remove_issue_worktree(item.issue)
        self.d.items.transition(item, "merged", reason)
        self._hook("post_merge", item, SUPERVISOR_SHA=sha)

    def _feedback_round(self, item: Item, fb: feedback.Feedback) -> None:
        """Changes requested or checks red: the next attempt addresses it, up to the cap."""
        assert item.pull is not None
        conv = item.conversation
        rounds = int(conv.get("rounds", 0))
        if rounds >= self.cfg.limits.review_rounds:
            if not item.needs_person:
                item.needs_person = (
                    f"{rounds} review rounds done (limits.review_rounds); "
                    f"new feedback: {', '.join(fb.what)}"
                )
                self.d.items.save(item)
                self.d.forge.comment(
                    item.pull,
                    f"The supervisor has addressed {rounds} rounds of review, its limit "
                    "(`limits.review_rounds`), and stops here: this needs a person.\n\n"
                    f"{marker(item.id, 'needs-person')}\n",
                )
                self.d.items.events.append(
                    {"event": "needs_person", "item": item.id, "why": item.needs_person}
                )
            self.d.items.save(item)
            return
        conv["rounds"] = rounds + 1
        conv["round_pending"] = {"round": rounds + 1, "threads": fb.threads, "feedback": fb.text}
        att = item.current_attempt()
        if (
            att is not None and att.get("status") == "running"
        ):  # published; the next one builds on it
            att.update(
                status="succeeded",
                ended_at=now_utc(),
                outcome=f"published; review round {rounds + 1} asked for more",
            )
        self.d.items.transition(
            item, "changes_requested", f"review round {rounds + 1}: {', '.join(fb.what)}"
        )

    def _report_round(self, item: Item) -> None:
        """After a round's change is on the pull request: say what changed, answer each
        conversation it addressed (once each: every reply carries a marker). Called in pr_open
        only, when the round's change is published."""
        pending = item.conversation.get("round_pending")
        if not pending or item.pull is None or item.head_sha is None:
            return
        n = pending["round"]
        summary = (item.current_attempt() or {}).get("final_message", "").strip()
        self.d.forge.comment(
            item.pull,
            f"Review round {n}: the feedback is addressed in {item.head_sha[:12]}, proven "
            "again by the gates.\n\n"
            + (f"The worker's summary:\n\n{agent_text(summary)[:4000]}\n\n" if summary else "")
            + f"{marker(item.id, f'round-{n}')}\n",
        )
        for thread in pending.get("threads", []):
            self.d.forge.reply_review_comment(
                item.pull,
                int(thread),
                f"Addressed in {item.head_sha[:12]}.\n\n"
                f"{marker(item.id, f'thread-{thread}-{n}')}\n",
            )
        del item.conversation["round_pending"]
        self.d.items.save(item)
        log.info("%s: review round %d reported on pull request #%d", item.id, n, item.pull)

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
        self.mark_proven(item.head_sha, f"landed {item.id}: proven as base + candidate")
        self._merged(
            item,
            f"Merged {item.head_sha[:12]} into {base} (pull request #{item.pull}).",
            self.d.forge.get_pull(item.pull).url,
            f"fast-forwarded {base} to {item.head_sha[:12]}",
            item.head_sha,
        )
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
