"""One pass of the chain: scan, triage, then advance each item one saved step at a time.

Every step reads an item, does one thing, and moves the item on; the item is saved atomically
after every step (see items.ItemStore.transition). Steps that act outside the supervisor's own
files (a forge issue, a commit, a pull request, a merge) first look whether the act was already
done before a crash, so a kill -9 at any point followed by a restart never does anything twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from supervisor import git, land, prompts, sources, store
from supervisor.agents.base import Agent, RunControl
from supervisor.config import Config
from supervisor.errors import ChainHalted, StateCorrupt, StopRequested, UserError
from supervisor.forge.base import Forge, marker
from supervisor.gate import GateOutcome, run_gate
from supervisor.home import Home
from supervisor.ids import Sha
from supervisor.items import Item, ItemStore, now_utc
from supervisor.results import write_result
from supervisor.review import BadVerdict, parse_verdict
from supervisor.workspace import Workspace

log = logging.getLogger("supervisor.chain")

# States in which the chain has something to do for an item.
ACTIONABLE = (
    "new",
    "triaged",
    "approved",
    "fixing",
    "verifying",
    "reviewing",
    "publishing",
    "pr_open",
    "changes_requested",
)
TRIAGE = ("new", "triaged")
UNREVIEWED = (
    "The reviewer could not give a usable verdict on your change, so it was not accepted. "
    "Check it once more against the task and improve it where you can."
)
TRAILER = "Supervisor-Attempt"
CHECKOFF = "Supervisor-Checkoff"


@dataclass
class Deps:
    """Everything the chain uses, built in one place (app.build_deps); tests build fakes there."""

    home: Home
    cfg: Config
    items: ItemStore
    forge: Forge
    workspace: Workspace
    worker: Agent
    reviewer: Agent | None
    control: RunControl
    set_phase: Callable[[str, str | None], None] = lambda phase, item: None


@dataclass
class ChainReport:
    new_items: int = 0
    advanced: list[str] = field(default_factory=list)
    merged: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    worked: int = 0  # items taken past triage (what --max-items counts)

    def summary(self) -> str:
        return (
            f"chain done: {self.new_items} new, {len(self.advanced)} advanced, "
            f"{len(self.merged)} merged, {len(self.failed)} failed, "
            f"{len(self.blocked)} blocked"
        )

    @property
    def idle(self) -> bool:
        return not self.new_items and not self.advanced


class Chain:
    def __init__(self, deps: Deps) -> None:
        self.d = deps
        self.cfg = deps.cfg
        self.consecutive_failures = 0  # across the chains of one run

    # -- the pass -----------------------------------------------------------------------------

    def run(self, max_items: int | None = None) -> ChainReport:
        report = ChainReport()
        self._phase("scan")
        self.d.workspace.ensure_mirror(fetch=True)
        report.new_items = self.scan()
        everything = self.d.items.all()
        for item in everything:  # triage: every new item gets its forge issue first
            if item.state in TRIAGE:
                self._check_stop()
                self._advance_counted(item, report, only=TRIAGE)
        worked = 0
        for item in everything:
            if item.state not in ACTIONABLE:
                continue
            if max_items is not None and worked >= max_items:
                break
            self._check_stop()
            if self._advance_counted(item, report):
                worked += 1
        report.worked = worked
        self._phase("idle")
        return report

    def _advance_counted(
        self, item: Item, report: ChainReport, only: tuple[str, ...] | None = None
    ) -> bool:
        before = (item.state, len(item.history))
        self.advance(item, report, only)
        if (item.state, len(item.history)) == before:
            return False
        if item.id not in report.advanced:
            report.advanced.append(item.id)
        if item.state == "merged":
            self.consecutive_failures = 0
        elif item.state == "failed":
            self.consecutive_failures += 1
            limit = self.cfg.limits.consecutive_failures
            if self.consecutive_failures >= limit:
                raise ChainHalted(
                    f"{self.consecutive_failures} items failed in a row "
                    f"(limits.consecutive_failures = {limit}); "
                    "`supervisor items --state failed` lists them"
                )
        return True

    def scan(self) -> int:
        """Collect candidates from the sources; new ones become items (state new)."""
        found: list[sources.Candidate] = []
        spec = self.cfg.sources.tasks.file
        if spec:
            text = git.show_file(
                self.d.workspace.mirror, f"refs/heads/{self.d.workspace.base_branch}", spec
            )
            if text is None:
                log.info("no spec file %s on %s: no tasks", spec, self.d.workspace.base_branch)
            else:
                found += sources.parse_tasks(text, spec)
        if self.cfg.sources.issues.label:
            found += sources.labelled_issues(self.d.forge, self.cfg.sources.issues.label)
        created = 0
        known = len(list(self.d.items.folder.glob("*.json")))
        for c in found:
            if self.d.items.path(c.id).exists():
                continue
            item = Item(
                id=c.id,
                kind=c.kind,
                title=c.title,
                body=c.body,
                source=c.source,
                issue=c.issue,
                fingerprint=c.id,
                seq=known + created + 1,
            )
            self.d.items.create(item, f"found in {c.source.get('type')}")
            created += 1
        update_cursors(
            self.d.home,
            "scan",
            {
                "at": now_utc(),
                "base_branch": self.d.workspace.base_branch,
                "base_sha": self.d.workspace.base_sha(),
                "candidates": len(found),
                "new": created,
            },
        )
        return created

    def advance(self, item: Item, report: ChainReport, only: tuple[str, ...] | None = None) -> None:
        """Take one item as far as it can go in this chain, one saved step at a time."""
        self._phase("triage", item.id)
        if self._closed_by_person(item):
            return
        steps: dict[str, Callable[[Item], None]] = {
            "new": self.triage,
            "triaged": self.approve,
            "approved": self.start_fixing,
            "changes_requested": self.start_fixing,
            "fixing": self.dispatch,
            "verifying": self.verify,
            "reviewing": self.review,
            "publishing": self.publish,
            "pr_open": self.follow,
        }
        for _ in range(50):  # each step moves the item; the bound guards against a bug looping
            step = steps.get(item.state)
            if step is None or (only is not None and item.state not in only):
                break
            self._check_stop()
            before = (item.state, len(item.history))
            self._phase(item.state, item.id)
            try:
                step(item)
            except land.BaseMoved as e:
                self._rebase(item, str(e))
            except UserError as e:
                log.error("item %s is blocked in %s: %s", item.id, item.state, e)
                self.d.items.events.append(
                    {"event": "blocked", "item": item.id, "state": item.state, "reason": str(e)}
                )
                report.blocked.append(item.id)
                return
            if (item.state, len(item.history)) == before:
                break
        if item.state == "merged":
            report.merged.append(item.id)
        elif item.state == "failed":
            report.failed.append(item.id)

    # -- triage and approval ------------------------------------------------------------------

    def triage(self, item: Item) -> None:
        """Make sure the item has a forge issue (found by its marker after a crash, never twice)."""
        if item.issue is None:
            mark = marker(item.id)
            issue = self.d.forge.find_issue(mark)
            if issue is None:
                body = (
                    f"{item.body}\n\nFound in `{item.source.get('file', '')}` by the "
                    f"supervisor; this issue follows its work.\n\n{mark}\n"
                )
                issue = self.d.forge.create_issue(item.title, body, ["supervisor"])
            item.issue = issue.number
        self.d.items.transition(
            item, "triaged", f"tracked as {self.d.forge.name} issue #{item.issue}"
        )

    def approve(self, item: Item) -> None:
        if item.kind == "task":
            reason = f"a task from the owner's spec file {item.source.get('file')}"
        elif item.kind == "issue" and self.d.forge.name == "local":
            reason = (
                f"labelled {item.source.get('label')} on the local forge, which only the "
                "owner of this machine can write"
            )
        else:
            self.d.items.transition(
                item, "awaiting_approval", "waiting for a maintainer's approval"
            )
            return
        self.d.items.transition(item, "approved", reason)

    def _closed_by_person(self, item: Item) -> bool:
        # pr_open is left to follow(), which closes the issue itself when the change lands.
        if item.issue is None or item.state in ("new", "pr_open"):
            return False
        if self.d.forge.get_issue(item.issue).state != "closed":
            return False
        self.d.items.transition(item, "closed_wontfix", f"issue #{item.issue} was closed")
        return True

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
        prompt = prompts.render(
            "worker_task",
            title=item.title,
            body=prompts.quoted(item.body),
            source=str(item.source.get("file") or f"{self.d.forge.name} issue #{item.issue}"),
            branch=item.branch,
            base_branch=self.d.workspace.base_branch,
            base_sha=item.base_sha,
            gate_commands=", ".join(f"`{c}`" for c in self.cfg.gate.fast) or "(none configured)",
            feedback=_feedback_section(item.feedback),
        )
        folder = self.d.home.attempt_dir(item.issue, n)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "prompt.md").write_text(prompt, encoding="utf-8")
        run = self.d.worker.run(
            "worker", prompt, wt, self.cfg.agents.timeout, folder / "agent.jsonl", item_id=item.id
        )
        att["agent"] = run.summary()
        att["final_message"] = run.final_message[-4000:]
        if run.failure == "stopped":
            self.d.items.save(item)
            raise StopRequested("stopped while the worker ran")
        failure, detail = run.failure, run.detail
        if failure is None:
            failure, detail = self._inspect_worktree(wt, before)
        if failure is not None:
            git.reset_clean(wt, before)
            self._fail_attempt(
                item, failure, detail, f"The previous attempt failed ({failure}): {detail}"
            )
            return
        message = f"{item.title}\n\nItem {item.id}, attempt {n}.\n\n{tag}\n"
        git.commit_all(wt, message)
        head = self._seal(item, wt)
        self._candidate_ready(item, att, head)

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

    def _seal(self, item: Item, wt: Path) -> Sha:
        """For a task, commit the check-off of its line on top of the change (once); the head.

        The check-off is its own commit so that a rebase can drop and redo it: two tasks whose
        lines are neighbours in the spec file would otherwise conflict on every rebase.
        """
        if item.kind == "task" and CHECKOFF not in git.head_message(wt):
            spec = wt / str(item.source["file"])
            if spec.is_file():
                text = spec.read_text(encoding="utf-8")
                updated = sources.check_off(text, str(item.source["text"]))
                if updated is not None:
                    spec.write_text(updated, encoding="utf-8")
                    git.commit_all(wt, f"Check off: {item.title[:60]}\n\n{CHECKOFF}: {item.id}\n")
        return git.rev_parse(wt, "HEAD")

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
        item.verified = {"base_sha": item.base_sha, "head_sha": item.head_sha, "slow": None}
        self.d.items.transition(item, "reviewing", outcome.describe(), gate=outcome.commands)

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
            body=prompts.quoted(item.body),
            base_branch=self.d.workspace.base_branch,
            base_sha=item.base_sha,
            diff=prompts.quoted(diff[-60_000:]),
            evidence="\n".join(
                f"- {lvl} gate: {'passed' if g['ok'] else 'failed'}: "
                + ", ".join(f"`{c['command']}` exit {c['exit_code']}" for c in g["commands"])
                for lvl, g in gates.items()
            )
            or "- no gate commands configured",
        )
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
        att["review"] = {
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
        self.d.items.transition(item, "publishing", f"reviewer approved (score {verdict.score})")

    # -- publish and land (local forge) -------------------------------------------------------

    def publish(self, item: Item) -> None:
        assert item.head_sha and item.verified is not None
        if item.verified.get("slow") != item.head_sha:
            if self._gate(item, "slow", self.cfg.gate.slow) is None:
                return
            item.verified["slow"] = item.head_sha
            self.d.items.save(item)
        pull = self.d.forge.find_pull(item.branch)
        if pull is None or pull.state == "closed":
            pull = self.d.forge.create_pull(
                item.title,
                f"Closes #{item.issue}.\n\n{marker(item.id, 'pull')}\n",
                item.branch,
                self.d.workspace.base_branch,
                draft=False,
            )
        item.pull = pull.number
        self.d.items.transition(item, "pr_open", f"pull request #{pull.number} ({pull.url})")

    def follow(self, item: Item) -> None:
        """Local forge: land the verified candidate by fast-forward, exactly once."""
        if self.d.forge.name != "local":
            return  # the GitHub forge waits for people; followed by a later version
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

    # -- attempts -----------------------------------------------------------------------------

    def _fail_attempt(self, item: Item, kind: str, detail: str, feedback: str) -> None:
        att = item.current_attempt()
        assert att is not None
        att.update(status="failed", failure_reason=kind, detail=detail[:2000], ended_at=now_utc())
        item.feedback = feedback
        write_result(self.d.home, item, self.d.workspace.base_branch)
        reason = f"attempt {att['n']} failed: {kind}: {detail[:300]}"
        if item.counted_attempts() >= self.cfg.limits.attempts:
            self.d.items.transition(
                item,
                "failed",
                f"{reason}; {item.counted_attempts()} attempts used, a person is needed",
            )
        else:
            self.d.items.transition(item, "fixing", reason)

    # -- helpers ------------------------------------------------------------------------------

    def _phase(self, phase: str, item: str | None = None) -> None:
        self.d.set_phase(phase, item)

    def _check_stop(self) -> None:
        if self.d.control.stop_event.is_set():
            raise StopRequested("stop requested")


def update_cursors(home: Home, key: str, value: dict[str, Any]) -> None:
    """state/cursors.json: watermarks kept across runs (this version: the last scan)."""
    try:
        doc = store.read_json(home.cursors_file, "cursors") or {}
    except StateCorrupt as e:
        log.error("%s", e)
        doc = {}
    doc.pop("schema_version", None)
    doc[key] = value
    store.write_json(home.cursors_file, doc)


def _feedback_section(feedback: str) -> str:
    if not feedback:
        return ""
    return f"\n## What the previous attempt got wrong\n\n{feedback}\n"
