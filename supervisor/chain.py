"""One pass of the chain: scan, triage, then advance each item one saved step at a time.

Every step reads an item, does one thing, and moves the item on; the item is saved atomically
after every step (see items.ItemStore.transition). Steps that act outside the supervisor's own
files (a forge issue, a commit, a pull request, a merge) first look whether the act was already
done before a crash, so a kill -9 at any point followed by a restart never does anything twice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from supervisor import cursors, git, land, shell, sources
from supervisor.ci import actions as ci_actions
from supervisor.ci import items as ci_items
from supervisor.ci import logs as ci_logs
from supervisor.ci import scan as ci_scan
from supervisor.errors import ChainHalted, StopRequested, UserError
from supervisor.forge.base import marker, with_block
from supervisor.github.forge import GitHubForge
from supervisor.issuetext import render_block
from supervisor.items import Item, now_utc
from supervisor.landing import LandSteps
from supervisor.report.collect import epoch
from supervisor.steps import Deps
from supervisor.triage.classify import Signals
from supervisor.triage.fingerprint import marker_block
from supervisor.trust import how_to_approve

log = logging.getLogger("supervisor.chain")

# States in which the chain has something to do for an item.
ACTIONABLE = (
    "new",
    "triaged",
    "analyzed",
    "awaiting_approval",
    "approved",
    "fixing",
    "verifying",
    "reviewing",
    "publishing",
    "pr_open",
    "changes_requested",
)
TRIAGE = ("new", "triaged")


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


class Chain(LandSteps):
    def __init__(self, deps: Deps) -> None:
        super().__init__(deps)
        self.consecutive_failures = 0  # across the chains of one run
        self.force_ci_scan = False  # `supervisor scan`: now, whatever the schedule says

    # -- the pass -----------------------------------------------------------------------------

    def run(self, max_items: int | None = None) -> ChainReport:
        report = ChainReport()
        self._phase("scan")
        self.d.workspace.ensure_mirror(fetch=True)
        report.new_items = self.scan()
        everything = self.d.items.all()
        self.triage_new(everything, report)
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

    def triage_new(self, everything: list[Item], report: ChainReport) -> None:
        """Every new item gets its forge issue (or, for infra, its record) first."""
        for item in everything:
            if item.state in TRIAGE:
                self._check_stop()
                self._advance_counted(item, report, only=TRIAGE)

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
            if item.kind == "gate":
                self.gate_gave_up(item)
            self._hook("on_failure", item)
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
        created += self._scan_ci()
        created += self.scan_main()
        cursors.update(
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

    def ci_scan_due(self) -> float | None:
        """When the next CI scan is due (epoch), or None when it is due now.

        The CI scan runs every schedule.scan_every, remembered in cursors.json across restarts:
        a restart neither rescans early nor skips one."""
        last = cursors.read(self.d.home).get("ci_scan", {}).get("at")
        if not last or self.force_ci_scan:
            return None
        due = epoch(str(last)) + self.cfg.schedule.scan_every
        return due if due > time.time() else None

    def _scan_ci(self) -> int:
        """CI logs (sources.ci): new failures become items, known ones get an occurrence."""
        ci = self.cfg.sources.ci
        if not ci.logs_dir and not ci.workflow:
            return 0
        due = self.ci_scan_due()
        if due is not None:
            log.info(
                "CI scan: next one at %s (schedule.scan_every)",
                time.strftime("%Y-%m-%d %H:%M", time.localtime(due)),
            )
            return 0
        created = self._scan_ci_now()
        cursors.update(self.d.home, "ci_scan", {"at": now_utc()})
        return created

    def _scan_ci_now(self) -> int:
        ci = self.cfg.sources.ci
        self.d.workspace.ensure_mirror(fetch=False)  # for the commits' changed files
        refs: list[ci_logs.LogRef] = []
        signals: dict[str, Signals] = {}
        if ci.logs_dir:
            refs += ci_logs.folder_logs(self.cfg.path(ci.logs_dir))
        sources = self._actions() if ci.workflow else []
        collected: list[bool] = []
        done = ci_scan.seen(self.d.home)
        for source in sources:
            more, found, ok = source.collect(done)
            refs += more
            signals.update(found)
            collected.append(ok)
        refs = [ref for ref in refs if ref.key not in done]  # a log is triaged once
        # fingerprint -> SHAs it failed at; read from every item, so only when there is news
        history = ci_items.history(self.d.items) if refs else {}
        for ref in refs:
            base = signals.get(ref.key, Signals(sha=ref.sha or ""))
            touched = git.changed_paths(self.d.workspace.mirror, ref.sha) if ref.sha else None
            deterministic = ref.extra.get("deterministic")
            signals[ref.key] = replace(
                base,
                failed_shas_by_fingerprint=history,
                touched_paths=touched,
                deterministic=deterministic if isinstance(deterministic, bool) else None,
            )
        findings, keys = ci_scan.collect(self.d.home, refs, signals)
        created, updated = ci_items.upsert(self.d.items, findings)
        ci_scan.mark_seen(self.d.home, keys)  # only once the items are saved
        for source, ok in zip(sources, collected, strict=True):
            source.advance(ok)
        if keys:
            log.info(
                "CI logs: %d triaged, %d new items, %d new occurrences", len(keys), created, updated
            )
        return created

    def _actions(self) -> list[ci_actions.ActionsSource]:
        forge = self.d.forge
        if not isinstance(forge, GitHubForge):
            raise UserError(
                "sources.ci.workflow reads GitHub Actions: it needs forge: github "
                "(for logs on disk use sources.ci.logs_dir)"
            )
        return ci_actions.sources(forge.client, forge.owner, forge.repo, self.cfg, self.d.home)

    def advance(self, item: Item, report: ChainReport, only: tuple[str, ...] | None = None) -> None:
        """Take one item as far as it can go in this chain, one saved step at a time.

        A user-facing failure (a git command, the forge, the network) blocks this item for this
        chain, with the reason logged; the other items go on.
        """
        self._phase("triage", item.id)
        try:
            if not self._closed_by_person(item):
                if only is None:
                    self._phase("watch", item.id)
                    self.watch(item)
                self._steps(item, only)
            self._sync_issue(item)
        except (UserError, shell.CommandError) as e:
            log.error("item %s is blocked in %s: %s", item.id, item.state, e)
            self.d.items.events.append(
                {"event": "blocked", "item": item.id, "state": item.state, "reason": str(e)}
            )
            report.blocked.append(item.id)
            return
        if item.state == "merged":
            report.merged.append(item.id)
        elif item.state == "failed":
            report.failed.append(item.id)
        self._tell_a_person(item)

    def _tell_a_person(self, item: Item) -> None:
        """Notify, once per item, when it stopped and waits for a person."""
        if self.d.notify is None or item.conversation.get("notified"):
            return
        if item.state != "failed" and not item.needs_person:
            return
        why = item.needs_person or str(item.history[-1].get("reason", ""))
        where = f" (issue #{item.issue})" if item.issue is not None else ""
        # Sent, then recorded: a crash in between repeats a private message to the owner,
        # which is better than losing the one that says someone is needed.
        self.d.notify(f"supervisor: {item.title[:80]} needs a person", f"{why[:500]}{where}", None)
        item.conversation["notified"] = now_utc()
        self.d.items.save(item)

    def _steps(self, item: Item, only: tuple[str, ...] | None) -> None:
        steps: dict[str, Callable[[Item], None]] = {
            "new": self.triage,
            "triaged": self.after_triage,
            "analyzed": self.ask_approval,
            "awaiting_approval": self.await_approval,
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
                return
            self._check_stop()
            before = (item.state, len(item.history))
            self._phase(item.state, item.id)
            try:
                step(item)
            except land.BaseMoved as e:
                self._rebase(item, str(e))
            if (item.state, len(item.history)) == before:
                return

    # -- triage and approval ------------------------------------------------------------------

    def triage(self, item: Item) -> None:
        """Make sure the item has a forge issue (found by its marker after a crash, never twice).

        Infrastructure failures are recorded and counted, not turned into work: no issue.
        """
        if item.kind == "infra":
            reasons = "; ".join(item.source.get("reasons", [])) or "an infrastructure failure"
            self.d.items.transition(item, "ignored", f"infra: {reasons}"[:500])
            return
        if item.issue is None:
            mark = marker(item.id)
            issue = self.d.forge.find_issue(mark)
            if issue is None:
                intro = self._issue_intro(item)
                issue = self.d.forge.create_issue(
                    item.title, with_block(intro, render_block(item)), ["supervisor"]
                )
            item.issue = issue.number
        self.d.items.transition(
            item, "triaged", f"tracked as {self.d.forge.name} issue #{item.issue}"
        )

    @staticmethod
    def _issue_intro(item: Item) -> str:
        if item.source.get("type") == "ci":
            return f"{item.body}\n\n{marker_block([item.fingerprint])}"
        return (
            f"{item.body}\n\nFound in `{item.source.get('file', '')}` by the "
            "supervisor; this issue follows its work."
        )

    def _sync_issue(self, item: Item) -> None:
        """Rewrite the supervisor's block in the item's issue when what it says changed.

        The issue is read afresh (not reused from the start of advance()): a person may have
        edited its text while the agent ran, and their edit must survive."""
        if item.issue is None:
            return
        issue = self.d.forge.get_issue(item.issue)
        hint = "" if self.cfg.approval.mode == "auto" else how_to_approve(self.cfg.approval)
        body = with_block(issue.body, render_block(item, hint))
        if body != issue.body:
            self.d.forge.update_issue_body(item.issue, body)

    def _closed_by_person(self, item: Item) -> bool:
        # pr_open is left to follow(), which closes the issue itself when the change lands.
        if item.issue is None or item.state in ("new", "pr_open"):
            return False
        if self.d.forge.get_issue(item.issue).state != "closed":
            return False
        self.d.items.transition(item, "closed_wontfix", f"issue #{item.issue} was closed")
        return True


__all__ = ["ACTIONABLE", "Chain", "ChainReport", "Deps", "StopRequested"]
