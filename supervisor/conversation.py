"""The conversation on an item's issue: the analysis, the replies to people, the approval.

Who may say go is decided here and nowhere else (:class:`People`): a person whose
``author_association`` is one of ``approval.roles``, or whose login is in ``approval.users``
("allowed"). Everyone else's words are data: they reach an agent quoted and marked untrusted, they
may get an answer, and they change nothing the supervisor does.

Every act is done once, even across a kill -9: each comment the supervisor posts carries a marker
naming the item and the step (``analysis``, ``reply-<comment id>``, ``approval-hint``) and is
looked up before it is posted; the watermark (the last comment read) is saved in the item in the
same atomic write as what was done about the comment.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from supervisor import prompts
from supervisor.agents.login import check_login
from supervisor.errors import StopRequested
from supervisor.fixing import FixSteps
from supervisor.forge.base import Comment, find_marker, marker
from supervisor.ids import Sha
from supervisor.items import Item, now_utc
from supervisor.redact import redact
from supervisor.trust import how_to_approve

log = logging.getLogger("supervisor.conversation")

APPROVE = re.compile(r"^\s*/ai-fix\b", re.I | re.M)
ANALYSED_KINDS = ("flaky", "regression")
NO_REPLY = "NO_REPLY"
MAX_TEXT = 12_000
DISCUSSION_TAIL = 12  # comments shown to the analyst before the one it answers


def agent_text(text: str) -> str:
    """An agent's answer, fit to post: secrets redacted, no HTML comment (so it can neither
    carry nor forge one of the supervisor's markers), bounded."""
    text = redact(text.strip()).replace("<!--", "&lt;!--")
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "\n\n(cut)"


class ConversationSteps(FixSteps):
    """Steps from triage to approval, and the watch over every open item's discussion."""

    # -- from triage to approval --------------------------------------------------------------

    def after_triage(self, item: Item) -> None:
        """Tasks and labelled issues are approved by where they come from; CI failures are
        analysed (flaky and regression items, when an analyst is configured), then wait for a
        maintainer."""
        if item.kind in ("task", "issue", "gate"):
            self.d.items.transition(item, "approved", self._approved_by_source(item))
            return
        self.reproduce_before(item)  # the figures the analysis and the issue show
        if self._wants_analysis(item) and self._analyze(item):
            comment = item.conversation["analysis"]["comment_id"]
            self.d.items.transition(
                item, "analyzed", f"analysis posted on issue #{item.issue} (comment {comment})"
            )
            return
        self.ask_approval(item)

    def _approved_by_source(self, item: Item) -> str:
        if item.kind == "gate":
            return (
                f"{self.d.workspace.base_branch} is red under the owner's own gates "
                "(sources.main): keeping it green needs no other approval"
            )
        if item.kind == "task":
            return f"a task from the owner's spec file {item.source.get('file')}"
        if self.d.forge.name == "local":
            return (
                f"labelled {item.source.get('label')} on the local forge, which only the "
                "owner of this machine can write"
            )
        return (
            f"labelled {item.source.get('label')} on {self.d.forge.name}, where only people "
            "with at least triage access to the repository can add labels"
        )

    def ask_approval(self, item: Item) -> None:
        approval = item.conversation.get("approval")
        if self.cfg.approval.mode == "auto":
            self.d.items.transition(item, "approved", "approval.mode is auto: no human gate")
        elif approval:  # given before the item was ready to ask for it
            self.d.items.transition(item, "approved", _approved_words(approval))
        else:
            self.d.items.transition(
                item,
                "awaiting_approval",
                f"waiting for a maintainer: {how_to_approve(self.cfg.approval)}",
            )

    def await_approval(self, item: Item) -> None:
        """Comments were read by watch(); here: auto mode, an approval watch() recorded, or
        the approving label and who added it."""
        if self.cfg.approval.mode == "auto" or item.conversation.get("approval"):
            self.ask_approval(item)
        elif self.cfg.approval.mode == "label":
            self._label_approval(item)

    def _label_approval(self, item: Item) -> None:
        assert item.issue is not None
        label = self.cfg.approval.label.lower()
        if label not in {lb.lower() for lb in self.d.forge.get_issue(item.issue).labels}:
            return
        added = [
            e
            for e in self.d.forge.label_events(item.issue)
            if e.label.lower() == label and e.action == "labeled"
        ]
        if not added:  # typed into the local forge's file: nobody to credit
            self._hint(item, item.issue, "")
            return
        actor = added[-1].actor
        association = self.d.forge.association(actor)
        if not self.people.allowed(actor, association):
            log.warning(
                "%s: the label %s was added by @%s (%s), who may not approve; ignored",
                item.id,
                self.cfg.approval.label,
                actor,
                self.people.standing(actor, association),
            )
            self._hint(item, item.issue, actor)
            return
        item.conversation["approval"] = {
            "by": actor,
            "how": f"label {self.cfg.approval.label}",
            "standing": self.people.standing(actor, association),
            "at": now_utc(),
        }
        self.ask_approval(item)

    # -- the analysis -------------------------------------------------------------------------

    def _wants_analysis(self, item: Item) -> bool:
        return (
            self.d.analyst is not None
            and item.kind in ANALYSED_KINDS
            and item.source.get("type") == "ci"
            and item.issue is not None
        )

    def _analyze(self, item: Item) -> bool:
        """Write (or rewrite) the analysis comment; False when the analyst gave none."""
        assert item.issue is not None
        conv = item.conversation
        runs = len([r for r in conv.get("agent_runs", []) if r.get("step") == "analysis"])
        src = item.source
        prompt = prompts.render(
            "analyst_analysis",
            test=str(src.get("test") or "(package-level)"),
            package=str(src.get("package") or "an unknown package"),
            kind=str(src.get("failure_kind", "")),
            category=item.kind,
            reasons="\n".join(f"- {r}" for r in src.get("reasons", [])) or "- (none recorded)",
            figures=self._figures(item),
            excerpt=prompts.quoted(item.body[-8000:]),
            base_branch=self.d.workspace.base_branch,
            base_sha=self.d.workspace.base_sha(),
        )
        text = self._run_analyst(item, prompt, "analysis", f"analysis-{runs + 1}")
        seen = len(item.occurrences)
        if text is None or text == NO_REPLY:
            conv["analysis"] = {**conv.get("analysis", {}), "occurrences": seen, "at": now_utc()}
            self.d.items.save(item)
            return False
        body = self._analysis_body(item, text)
        mark = marker(item.id, "analysis")
        existing = conv.get("analysis", {}).get("comment_id")
        if existing is None:  # posted before a crash? found by its marker, never posted twice
            found = self._own_comment(item.issue, mark)
            existing = found.id if found is not None else None
        if existing is None:
            existing = self.d.forge.comment(item.issue, body).id
        else:
            self.d.forge.update_comment(item.issue, existing, body)
        conv["analysis"] = {"comment_id": existing, "occurrences": seen, "at": now_utc()}
        self.d.items.save(item)
        return True

    def _analysis_body(self, item: Item, text: str) -> str:
        assert self.d.analyst is not None
        approve = (
            ""
            if self.cfg.approval.mode == "auto"
            else f"\n\nTo have the supervisor fix it: {how_to_approve(self.cfg.approval)}."
        )
        excerpt = item.body.strip()[-3000:].replace("<!--", "&lt;!--")
        return (
            f"### Analysis\n\n{text}\n\n---\n\n**What the supervisor observed**\n\n"
            f"{self._figures(item)}\n\n<details><summary>The log excerpt the analysis read"
            f"</summary>\n\n{prompts.quoted(excerpt)}\n\n</details>{approve}\n\n"
            f"<sub>Written by the supervisor's analyst ({self.d.analyst.name}) from the CI log "
            "excerpt and the code; rewritten when new occurrences arrive.</sub>\n"
            f"{marker(item.id, 'analysis')}\n"
        )

    def _own_comment(self, number: int, mark: str) -> Comment | None:
        return next(
            (
                c
                for c in self.d.forge.list_comments(number)
                if mark in c.body and self.people.own(c)
            ),
            None,
        )

    @staticmethod
    def _figures(item: Item) -> str:
        occ = item.occurrences
        if not occ:
            return "- no occurrence recorded"
        shas = {o.get("sha") for o in occ if o.get("sha")}
        times = sorted(str(o.get("time") or o.get("seen_at") or "") for o in occ)
        lines = [
            f"- {len(occ)} occurrence(s) in CI, at {len(shas)} distinct commit(s)",
            f"- first seen {times[0] or 'at an unknown time'}, last {times[-1] or 'unknown'}",
        ]
        runs = [str(o["url"]) for o in occ[-5:] if o.get("url")]
        if runs:
            lines.append("- latest runs: " + ", ".join(runs))
        before = item.reproduction.get("before")
        if not before:
            lines.append("- reproduction: not measured (reproduce.runner: none, or no test name)")
        elif before.get("error"):
            lines.append(f"- reproduction: could not run the test: {before['error'][:300]}")
        else:
            lines.append(
                f"- reproduction at {str(before.get('sha', ''))[:12]}: {before['words']} "
                f"(`{before.get('command')}`, {before.get('seconds_per_run')}s per run)"
            )
        return "\n".join(lines)

    def refresh_analysis(self, item: Item) -> None:
        """New occurrences since the analysis: rewrite it (the same comment, updated)."""
        analysis = item.conversation.get("analysis")
        if (
            item.state in ("analyzed", "awaiting_approval")
            and analysis is not None
            and len(item.occurrences) > int(analysis.get("occurrences", 0))
            and self._wants_analysis(item)
            and self._analyze(item)
        ):
            log.info("%s: analysis updated for %d occurrences", item.id, len(item.occurrences))

    # -- watching the discussion --------------------------------------------------------------

    def watch(self, item: Item) -> None:
        """Read the comments since the watermark, on the issue and on the pull request."""
        if item.terminal or item.state == "new" or item.issue is None:
            return
        self._watch_thread(item, item.issue, "issue_seen")
        if item.pull is not None:
            self._watch_thread(item, item.pull, "pull_seen")
        self.refresh_analysis(item)

    def _watch_thread(self, item: Item, number: int, key: str) -> None:
        conv = item.conversation
        comments = self.d.forge.list_comments(number, since_id=int(conv.get(key, 0)))
        done = {find_marker(c.body) for c in comments if self.people.own(c)}
        for c in sorted(comments, key=lambda c: c.id):
            if not (self.people.own(c) or self.people.bot(c.author)):
                self._consider(item, number, c, done)
            conv[key] = max(int(conv.get(key, 0)), c.id)
            self.d.items.save(item)

    def _consider(self, item: Item, number: int, c: Comment, done: set[str]) -> None:
        trusted = self.people.allowed(c.author, c.author_association)
        if APPROVE.search(c.body):
            self._approval_command(item, number, c, trusted)
            return
        if marker(item.id, f"reply-{c.id}") in done:
            return  # answered before a crash
        self._reply(item, number, c, trusted)

    def _approval_command(self, item: Item, number: int, c: Comment, trusted: bool) -> None:
        waiting = item.state in ("triaged", "analyzed", "awaiting_approval")
        if not waiting or self.cfg.approval.mode != "comment":
            log.info("%s: /ai-fix by @%s changes nothing in %s", item.id, c.author, item.state)
            return
        if not trusted:
            log.warning(
                "%s: /ai-fix by @%s (%s), who may not approve; ignored",
                item.id,
                c.author,
                self.people.standing(c.author, c.author_association),
            )
            self._hint(item, number, c.author)
            return
        item.conversation["approval"] = {
            "by": c.author,
            "how": f"/ai-fix (comment {c.id})",
            "standing": self.people.standing(c.author, c.author_association),
            "at": now_utc(),
        }
        item.conversation["issue_seen" if number == item.issue else "pull_seen"] = c.id
        if item.state == "awaiting_approval":
            self.ask_approval(item)
        else:
            self.d.items.save(item)

    def _hint(self, item: Item, number: int, who: str) -> None:
        """Tell, once per item, how approval is given; the words themselves change nothing."""
        if item.conversation.get("hinted"):
            return
        to = f"@{who}, thank you. " if who else ""
        self.d.forge.comment(
            number,
            f"{to}The supervisor starts work on an issue only when "
            f"{how_to_approve(self.cfg.approval)}; other approvals change nothing.\n\n"
            f"{marker(item.id, 'approval-hint')}\n",
        )
        item.conversation["hinted"] = True
        self.d.items.save(item)

    def _reply(self, item: Item, number: int, c: Comment, trusted: bool) -> None:
        if self.d.analyst is None:
            return
        conv = item.conversation
        day_ago = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        recent = [r for r in conv.get("replies", []) if str(r.get("at", "")) >= day_ago]
        if len(recent) >= self.cfg.limits.replies_per_day:
            log.info(
                "%s: comment %d by @%s not answered: %d replies in 24 hours "
                "(limits.replies_per_day)",
                item.id,
                c.id,
                c.author,
                len(recent),
            )
            self.d.items.events.append(
                {"event": "reply_skipped", "item": item.id, "comment": c.id, "why": "daily cap"}
            )
            return
        text = self._run_analyst(
            item, self._reply_prompt(item, number, c, trusted), f"reply-{c.id}"
        )
        if text is None or text == NO_REPLY or not text:
            return
        standing = "" if trusted else " (the supervisor acts only on maintainers' words)"
        self.d.forge.comment(
            number,
            f"@{c.author} {text}\n\n<sub>The supervisor's analyst "
            f"({self.d.analyst.name}){standing}.</sub>\n{marker(item.id, f'reply-{c.id}')}\n",
        )
        conv.setdefault("replies", []).append({"at": now_utc(), "to": c.id, "by": c.author})
        self.d.items.save(item)
        self.d.items.events.append({"event": "reply", "item": item.id, "comment": c.id})

    def _reply_prompt(self, item: Item, number: int, c: Comment, trusted: bool) -> str:
        people = self.people
        earlier = [
            e
            for e in self.d.forge.list_comments(number)
            if e.id < c.id and not people.bot(e.author)
        ][-DISCUSSION_TAIL:]
        discussion = "\n\n".join(
            "From the supervisor itself:\n\n" + prompts.quoted(e.body)
            if people.own(e)
            else prompts.said(
                e.author,
                people.standing(e.author, e.author_association),
                e.body,
                people.allowed(e.author, e.author_association),
            )
            for e in earlier
        )
        waiting = item.state in ("triaged", "analyzed", "awaiting_approval")
        note = (
            f"If it helps, say that the supervisor starts a fix when "
            f"{how_to_approve(self.cfg.approval)}."
            if waiting and self.cfg.approval.mode != "auto"
            else ""
        )
        head = item.head_sha if item.state == "pr_open" else None
        return prompts.render(
            "analyst_reply",
            title=item.title,
            facts=prompts.quoted(item.body[-6000:]),
            base_branch=self.d.workspace.base_branch,
            code_sha=head or item.base_sha or self.d.workspace.base_sha(),
            approve_how=how_to_approve(self.cfg.approval),
            discussion=discussion or "(no earlier comments)",
            comment=prompts.said(
                c.author, people.standing(c.author, c.author_association), c.body, trusted
            ),
            approval_note=note,
        )

    # -- running the analyst ------------------------------------------------------------------

    def _run_analyst(self, item: Item, prompt: str, step: str, label: str = "") -> str | None:
        """The analyst's answer in a read-only checkout (its own, apart from the gate), or None
        when it failed (logged; a failed analysis or reply is not a failed item)."""
        analyst = self.d.analyst
        assert analyst is not None and item.issue is not None
        label = label or step
        check_login(analyst)
        head = Sha(item.head_sha) if item.state == "pr_open" and item.head_sha else None
        base = Sha(item.base_sha) if head and item.base_sha else self.d.workspace.base_sha()
        wt = self.d.workspace.analysis_checkout(base, head)
        folder = self.d.home.runs_dir / f"issue-{item.issue}" / "analyst"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{label}.prompt.md").write_text(prompt, encoding="utf-8")
        outside = self.d.workspace.outside_state(item.issue)
        run = analyst.run(
            "analyst",
            prompt,
            wt,
            self.cfg.agents.timeout,
            folder / f"{label}.jsonl",
            item_id=item.id,
        )
        record: dict[str, Any] = {"at": now_utc(), "step": step, **run.summary()}
        if run.failure:
            record["failure"] = run.failure
        item.conversation.setdefault("agent_runs", []).append(record)
        self.d.items.save(item)
        if run.failure == "stopped":
            raise StopRequested("stopped while the analyst ran")
        self._agent_unavailable(run, item)
        changed = self._outside_changes(item, outside)
        if changed or run.failure:
            why = f"it wrote outside its checkout: {changed}" if changed else run.detail
            log.warning("%s: the analyst's %s failed (%s): %s", item.id, step, run.failure, why)
            self.d.items.events.append(
                {"event": "analyst_failed", "item": item.id, "step": step, "reason": why[:300]}
            )
            return None
        return agent_text(run.final_message)


def _approved_words(approval: dict[str, Any]) -> str:
    return f"approved by @{approval['by']} ({approval['standing']}) with {approval['how']}"
