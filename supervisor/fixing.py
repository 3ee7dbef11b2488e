"""The fixing steps: dispatch the worker, verify the candidate in the gate, have it reviewed."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from supervisor import git, prompts
from supervisor.agents.base import AgentRun
from supervisor.agents.login import check_login
from supervisor.errors import ChainHalted, StopRequested, UsageLimited, UserError
from supervisor.gate import GateOutcome, run_gate
from supervisor.ids import Sha
from supervisor.items import Item, now_utc
from supervisor.mainline import MainSteps
from supervisor.repro_steps import ReproSteps
from supervisor.review import BadVerdict, parse_verdict
from supervisor.steps import CHECKOFF, TRAILER, log
from supervisor.trust import People

UNREVIEWED = (
    "The reviewer could not give a usable verdict on your change, so it was not accepted. "
    "Check it once more against the task and improve it where you can."
)


class FixSteps(ReproSteps, MainSteps):
    @functools.cached_property
    def people(self) -> People:
        """Who is who: built once (the config and the forge do not change during a run)."""
        return People(self.cfg.approval, self.d.forge)

    # -- dispatch -----------------------------------------------------------------------------

    def start_fixing(self, item: Item) -> None:
        self.d.items.transition(item, "fixing", "dispatching the worker")

    def dispatch(self, item: Item) -> None:
        att = item.current_attempt()
        if att is None or att.get("status") != "running":
            if item.counted_attempts() >= self.cfg.limits.attempts:
                self.d.items.transition(
                    item, "failed", f"{item.counted_attempts()} attempts failed"
                )
                return
            if item.base_sha is None:
                item.base_sha = self.d.workspace.base_sha()
            att = {
                "n": len(item.attempts) + 1,
                "status": "running",
                "started_at": now_utc(),
                "base_sha": item.base_sha,
            }
            item.attempts.append(att)
            self.d.items.save(item)
        assert item.issue is not None and item.base_sha is not None
        n = att["n"]
        wt = self.d.workspace.issue_worktree(item.issue, Sha(item.base_sha))
        tag = f"{TRAILER}: {item.id}#{n}"
        if tag in git.head_message(wt) or (
            CHECKOFF in git.head_message(wt) and tag in git.head_message(wt, "HEAD~1")
        ):  # committed before a crash: the agent's work is done
            git.reset_clean(wt, "HEAD")  # drop a check-off edit interrupted before its commit
            self._candidate_ready(item, att, self._seal(item, wt))
            return
        if git.in_progress_operation(wt):
            git.git(wt, "rebase", "--abort", check=False)
            git.git(wt, "merge", "--abort", check=False)
        git.reset_clean(wt, "HEAD")  # discard what an interrupted run left half-done
        before = git.rev_parse(wt, "HEAD")
        prompt = self._worker_prompt(item)
        folder = self.d.home.attempt_dir(item.issue, n)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "prompt.md").write_text(prompt, encoding="utf-8")
        outside = self.d.workspace.outside_state(item.issue)
        run = self._run_worker(item, prompt, wt, folder)
        att["agent"] = run.summary()
        att["final_message"] = run.final_message[-4000:]
        if run.failure == "stopped":
            self.d.items.save(item)
            raise StopRequested("stopped while the worker ran")
        self._agent_unavailable(run, item)
        failure, detail = run.failure, run.detail
        changed = self._outside_changes(item, outside)
        if changed:
            failure, detail = "bad_output", f"the agent wrote outside its worktree: {changed}"
        if failure is None:
            failure, detail = self._inspect_worktree(wt, before)
        if failure is not None:
            if (wt / ".git").exists():
                if git.in_progress_operation(wt):
                    git.git(wt, "rebase", "--abort", check=False)
                    git.git(wt, "merge", "--abort", check=False)
                git.reset_clean(wt, before)
            else:  # the agent deleted its worktree: the next attempt gets a new one
                self.d.workspace.remove_issue_worktree(item.issue, delete_branch=False)
            self._fail_attempt(
                item, failure, detail, f"The previous attempt failed ({failure}): {detail}"
            )
            return
        message = f"{item.title}\n\nItem {item.id}, attempt {n}.\n\n{tag}\n"
        git.commit_all(wt, message)
        head = self._seal(item, wt)
        self._candidate_ready(item, att, head)

    def _worker_prompt(self, item: Item) -> str:
        """The prompt for the item's kind: a task or an issue, or a failing CI test."""
        assert item.base_sha is not None
        common = {
            "branch": item.branch,
            "base_branch": self.d.workspace.base_branch,
            "base_sha": item.base_sha,
            "gate_commands": ", ".join(f"`{c}`" for c in self.cfg.gate.fast) or "(none)",
            "feedback": _feedback_section(item.feedback),
        }
        round_ = item.conversation.get("round_pending")
        if round_:  # the pull request's reviewers or checks asked for more
            return prompts.render(
                "worker_review",
                title=item.title,
                body=self._item_text(item),
                feedback=str(round_.get("feedback", "")) + common["feedback"],
                **{k: v for k, v in common.items() if k != "feedback"},
            )
        if item.source.get("type") == "ci":
            src = item.source
            reasons = "\n".join(f"- {r}" for r in src.get("reasons", [])) or "- (none recorded)"
            return prompts.render(
                "worker_flaky",
                test=str(src.get("test") or "(package-level)"),
                package=str(src.get("package") or "an unknown package"),
                kind=str(src.get("failure_kind", "")),
                category=item.kind,
                reasons=reasons,
                excerpt=prompts.quoted(item.body[-8000:]),
                **common,
            )
        return prompts.render(
            "worker_task",
            title=item.title,
            body=self._item_text(item),
            source=str(item.source.get("file") or f"{self.d.forge.name} issue #{item.issue}"),
            **common,
        )

    def _item_text(self, item: Item) -> str:
        """The item's text for an agent: quoted; marked untrusted when a person outside the
        allowed ones wrote it (an issue a stranger opened and a maintainer labelled)."""
        author = str(item.source.get("author") or "")
        if item.kind != "issue" or not author:
            return prompts.quoted(item.body)
        people = self.people
        association = self.d.forge.association(author)
        return prompts.said(
            author,
            people.standing(author, association),
            item.body,
            people.allowed(author, association),
        )

    def _run_worker(self, item: Item, prompt: str, wt: Path, folder: Path) -> AgentRun:
        """Run the worker, continuing the previous attempt's session where the CLI can; a
        resume that fails is retried once as a fresh session (the prompt carries the history)."""
        worker = self.d.worker
        if worker is None:
            raise UserError("no worker: this run only scans (supervisor scan)")
        check_login(worker)
        previous = item.attempts[-2].get("agent", {}) if len(item.attempts) > 1 else {}
        session = previous.get("session_id") if previous.get("name") == worker.name else None
        log = folder / "agent.jsonl"
        run = worker.run(
            "worker", prompt, wt, self.cfg.agents.timeout, log, item_id=item.id, resume=session
        )
        if session and run.failure in ("crashed", "bad_output"):
            log.rename(log.with_name("agent-resume-failed.jsonl"))
            git.reset_clean(wt, "HEAD")
            run = worker.run("worker", prompt, wt, self.cfg.agents.timeout, log, item_id=item.id)
        return run

    def _outside_changes(self, item: Item, before: dict[str, str]) -> str:
        """What the agent changed outside its worktree in what only the supervisor writes (the
        mirror's branches, the gate worktree), put back. A local target whose branches moved
        meanwhile is only logged: its owner may have committed during the run."""
        assert item.issue is not None
        after = self.d.workspace.outside_state(item.issue)
        if before.get("target") != after.get("target"):
            log.warning(
                "the target's branches changed while the worker of %s ran (by the "
                "agent, or by someone working in the target)",
                item.id,
            )
        what = [name for name in ("mirror", "gate") if before.get(name) != after.get(name)]
        if what:
            self.d.workspace.restore_outside(item.issue, before)
        names = {"mirror": "the mirror's branches", "gate": "the gate worktree"}
        return ", ".join(names[w] for w in what)

    def _agent_unavailable(self, run: AgentRun, item: Item) -> None:
        """Failures that are not the item's: no attempt is spent on them."""
        if run.failure == "usage_limit":
            self.d.items.save(item)
            until = run.retry_at or 0.0
            raise UsageLimited(f"{run.name} hit its usage limit: {run.detail}", until)
        if run.failure == "not_logged_in":
            self.d.items.save(item)
            raise ChainHalted(f"{run.detail}; the item resumes where it was")

    def _inspect_worktree(self, wt: Path, before: Sha) -> tuple[str | None, str]:
        if not wt.exists():
            return "bad_output", "the agent deleted its worktree"
        if git.in_progress_operation(wt):
            return "bad_output", "the agent left a rebase or merge unfinished"
        if git.rev_parse(wt, "HEAD") != before:
            return "bad_output", "the agent made commits itself; the supervisor commits"
        if not git.status(wt):
            return "no_change", "the agent changed nothing"
        return None, ""

    def _candidate_ready(self, item: Item, att: dict[str, Any], head: Sha) -> None:
        assert item.base_sha is not None
        att["head_sha"] = head
        att["diff_stat"] = git.diff(self.d.workspace.mirror, item.base_sha, head, stat=True)
        item.head_sha = head
        self.d.items.transition(item, "verifying", f"attempt {att['n']} produced {head[:12]}")

    # -- verify and review --------------------------------------------------------------------

    def verify(self, item: Item) -> None:
        outcome = self._gate(item, "fast", self.cfg.gate.fast)
        if outcome is None:
            return
        words = outcome.describe()
        after = self.reproduce_after(item)
        if after is not None:
            att = item.current_attempt()
            assert att is not None
            att["reproduction"] = after
            if after.get("accepted") is False:
                self._fail_attempt(
                    item,
                    "still_flaky" if after["verdict"] == "still_flaky" else "unproven",
                    after["words"],
                    f"The stress runs of the test on your change: {after['words']}. "
                    + _failed_run_tail(after),
                )
                return
            words += f"; {after.get('words') or after.get('error')}"
        item.verified = {"base_sha": item.base_sha, "head_sha": item.head_sha, "slow": None}
        self.d.items.transition(item, "reviewing", words[:500], gate=outcome.commands)

    def _gate(self, item: Item, level: str, commands: list[str]) -> GateOutcome | None:
        """Run a gate on base + candidate in the gate worktree; None when it failed."""
        assert item.base_sha and item.head_sha and item.issue is not None
        att = item.current_attempt()
        assert att is not None
        if not commands:
            if level == "fast":
                log.warning(
                    "no fast gate configured (gate.fast): %s is not proven by any check", item.id
                )
            att.setdefault("gate", {})[level] = {"ok": True, "commands": []}
            return GateOutcome(level, True, False, [])
        gate_wt = self.d.workspace.gate_checkout(Sha(item.base_sha), Sha(item.head_sha))
        outcome = run_gate(
            level,
            commands,
            gate_wt,
            self.d.home.attempt_dir(item.issue, att["n"]) / "gate.log",
            self.cfg.gate.timeout,
            self.d.control.stop_event,
        )
        if outcome.stopped:
            raise StopRequested(f"stopped during the {level} gate")
        att.setdefault("gate", {})[level] = {"ok": outcome.ok, "commands": outcome.commands}
        if not outcome.ok:
            self._fail_attempt(
                item,
                f"{level}_gate_failed",
                outcome.describe(),
                f"The {level} gate failed on your change: "
                f"`{outcome.failed_command}`. Its output ends with:\n"
                + prompts.quoted(outcome.output_tail),
            )
            return None
        return outcome

    def review(self, item: Item) -> None:
        att = item.current_attempt()
        assert att is not None and item.issue is not None and item.base_sha and item.head_sha
        if self.d.reviewer is None:
            att["review"] = {"verdict": "approve", "by": "gates only (agents.reviewer: none)"}
            self.d.items.transition(item, "publishing", "no reviewer configured: the gates decide")
            return
        wt = self.d.home.issue_worktree(item.issue)
        diff = git.diff(self.d.workspace.mirror, item.base_sha, item.head_sha)
        gates = att.get("gate", {})
        prompt = prompts.render(
            "reviewer",
            title=item.title,
            body=self._item_text(item),
            base_branch=self.d.workspace.base_branch,
            base_sha=item.base_sha,
            diff=prompts.quoted(diff[-60_000:]),
            evidence="\n".join(
                [
                    f"- {lvl} gate: {'passed' if g['ok'] else 'failed'}: "
                    + ", ".join(f"`{c['command']}` exit {c['exit_code']}" for c in g["commands"])
                    for lvl, g in gates.items()
                ]
                + repro_lines(item, att)
            )
            or "- no gate commands configured",
        )
        check_login(self.d.reviewer)
        run = self.d.reviewer.run(
            "reviewer",
            prompt,
            wt,
            self.cfg.agents.timeout,
            self.d.home.attempt_dir(item.issue, att["n"]) / "review.jsonl",
            item_id=item.id,
        )
        if run.failure == "stopped":
            raise StopRequested("stopped while the reviewer ran")
        att["review"] = {"agent": run.summary()}  # its tokens and cost count, whatever it said
        self._agent_unavailable(run, item)
        if git.rev_parse(wt, "HEAD") != item.head_sha or git.status(wt):
            git.reset_clean(wt, item.head_sha)
            self._fail_attempt(
                item, "review_failed", "the reviewer changed the worktree", UNREVIEWED
            )
            return
        if run.failure:
            self._fail_attempt(
                item, "review_failed", f"reviewer {run.failure}: {run.detail}", UNREVIEWED
            )
            return
        try:
            verdict = parse_verdict(run.final_message)
        except BadVerdict as e:
            self._fail_attempt(item, "review_failed", f"unusable verdict: {e}", UNREVIEWED)
            return
        att["review"] |= {
            "verdict": verdict.verdict,
            "score": verdict.score,
            "summary": verdict.summary,
            "comments": verdict.comments,
        }
        if not verdict.approved:
            notes = "\n".join(
                f"- {c.get('path', '')}:{c.get('line', '')} {c.get('body', '')}"
                for c in verdict.comments
            )
            self._fail_attempt(
                item,
                "review_rejected",
                verdict.summary,
                "The reviewer requested changes:\n" + prompts.quoted(f"{verdict.summary}\n{notes}"),
            )
            return
        cited = self._check_evidence(item, verdict.evidence)
        if cited is None:
            return
        self.d.items.transition(
            item, "publishing", f"reviewer approved (score {verdict.score}){cited}"
        )

    def _check_evidence(self, item: Item, evidence: list[dict[str, Any]]) -> str | None:
        """Re-run, in the gate worktree, the tests the reviewer cites as evidence.

        Only the configured fast gate commands that take a {test} are run, with the cited test
        filled in: a reviewer's own command lines are never executed. A cited test that fails
        turns the approval into a rejection (None is returned then)."""
        tests = [str(e["test"]) for e in evidence if isinstance(e.get("test"), str) and e["test"]]
        commands = [c for c in self.cfg.gate.fast if "{test}" in c]
        if not tests or not commands:
            return ""
        assert item.base_sha and item.head_sha and item.issue is not None
        att = item.current_attempt()
        assert att is not None
        gate_wt = self.d.workspace.gate_checkout(Sha(item.base_sha), Sha(item.head_sha))
        for test in tests[:10]:
            outcome = run_gate(
                "evidence",
                commands,
                gate_wt,
                self.d.home.attempt_dir(item.issue, att["n"]) / "gate.log",
                self.cfg.gate.timeout,
                self.d.control.stop_event,
                {"test": test},
            )
            if outcome.stopped:
                raise StopRequested("stopped while re-running the reviewer's evidence")
            att.setdefault("evidence", []).append({"test": test, "ok": outcome.ok})
            if not outcome.ok:
                self._fail_attempt(
                    item,
                    "review_rejected",
                    f"the reviewer cited {test} as evidence, and it failed when re-run",
                    f"The test {test} fails on your change: `{outcome.failed_command}`:\n"
                    + prompts.quoted(outcome.output_tail),
                )
                return None
        return f"; the cited tests passed again: {', '.join(tests[:10])}"


def repro_lines(item: Item, att: dict[str, Any]) -> list[str]:
    """The stress-run figures, before and after, in words (for the reviewer and the PR)."""
    lines = []
    before = item.reproduction.get("before") or {}
    after = att.get("reproduction") or {}
    if before:
        lines.append(f"- before the fix: {before.get('words') or before.get('error')}")
    if after:
        lines.append(f"- after the fix: {after.get('words') or after.get('error')}")
    return lines


def _failed_run_tail(figures: dict[str, Any]) -> str:
    """The end of the first failed run's log, quoted, for the worker's next attempt."""
    logs = figures.get("failed_logs") or []
    if not logs:
        return ""
    try:
        text = Path(logs[0]).read_text(encoding="utf-8", errors="replace")[-3000:]
    except OSError:
        return ""
    return "The first failed run ended with:\n" + prompts.quoted(text)


def _feedback_section(feedback: str) -> str:
    if not feedback:
        return ""
    return f"\n## What the previous attempt got wrong\n\n{feedback}\n"
