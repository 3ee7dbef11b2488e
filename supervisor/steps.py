"""What every chain step shares: the dependencies, failing an attempt, the task check-off."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from supervisor import git, sources
from supervisor.agents.base import Agent, RunControl
from supervisor.config import Config
from supervisor.errors import StopRequested
from supervisor.forge.base import Forge
from supervisor.home import Home
from supervisor.hooks import HookRunner
from supervisor.ids import Sha
from supervisor.items import Item, ItemStore, now_utc
from supervisor.results import write_result
from supervisor.workspace import Workspace

log = logging.getLogger("supervisor.chain")

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
    worker: Agent | None  # None for `supervisor scan`, which dispatches nothing
    reviewer: Agent | None
    control: RunControl
    set_phase: Callable[[str, str | None], None] = lambda phase, item: None
    # when the next chain and the next CI scan are due (epoch; None: at the next chain)
    set_next: Callable[[float, float | None], None] = lambda chain_at, scan_at: None
    analyst: Agent | None = None  # writes the analysis and the replies; None: neither is written
    # title, text, link -> what failed; set when a notification channel is configured
    notify: Callable[[str, str, str | None], list[str]] | None = None
    hooks: HookRunner | None = None  # post_merge and on_failure (start only)


class StepBase:
    def __init__(self, deps: Deps) -> None:
        self.d = deps
        self.cfg = deps.cfg

    def _hook(self, event: str, item: Item, **env: str) -> None:
        """Run hooks.<event> for item (never fatal: HookRunner logs and reports failures)."""
        if self.d.hooks is not None:
            self.d.hooks.run(
                event,
                {"SUPERVISOR_ITEM_ID": item.id, "SUPERVISOR_ISSUE": str(item.issue or ""), **env},
            )

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

    # -- helpers ------------------------------------------------------------------------------

    def _phase(self, phase: str, item: str | None = None) -> None:
        self.d.set_phase(phase, item)

    def _check_stop(self) -> None:
        if self.d.control.stop_event.is_set():
            raise StopRequested("stop requested")
