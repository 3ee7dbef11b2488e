"""The chain's stress runs of a flaky test: before the fix (at the base, for the analysis and the
issue), and after it (on the candidate, as part of verification). Both run in the gate worktree,
which only the supervisor uses; the figures go to the item, the attempt, the pull request."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from supervisor import reproduce
from supervisor.errors import StopRequested, UserError
from supervisor.ids import Sha
from supervisor.items import Item, now_utc
from supervisor.reproduce.runners import package_dir
from supervisor.steps import StepBase, log


class ReproSteps(StepBase):
    def _repro_wanted(self, item: Item) -> bool:
        return (
            self.cfg.reproduce.runner != "none"
            and item.source.get("type") == "ci"
            and item.kind in ("flaky", "regression")
            and bool(item.source.get("test"))
            and item.issue is not None
        )

    def reproduce_before(self, item: Item) -> None:
        """Measure how often the test fails at the base (once per item; a failure to build or
        run it is recorded, and the item goes on without figures)."""
        if not self._repro_wanted(item) or item.reproduction.get("before"):
            return
        base = self.d.workspace.base_sha()
        item.reproduction["before"] = self._stress(item, "before", base, None) | {"sha": base}
        self.d.items.save(item)
        self.d.items.events.append(
            {
                "event": "reproduced",
                "item": item.id,
                "verdict": item.reproduction["before"].get("verdict"),
                "words": item.reproduction["before"].get("words"),
            }
        )

    def reproduce_after(self, item: Item) -> dict[str, Any] | None:
        """Stress-run the candidate; the figures, or None when there is nothing to run."""
        if not self._repro_wanted(item) or not item.reproduction.get("before"):
            return None
        before = item.reproduction["before"]
        if before.get("error"):
            return None
        assert item.base_sha and item.head_sha
        return self._stress(item, "after", Sha(item.base_sha), Sha(item.head_sha), before)

    def _stress(
        self,
        item: Item,
        which: str,
        base: Sha,
        head: Sha | None,
        before: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        assert item.issue is not None
        att = len(item.attempts)
        folder = (
            self.d.home.runs_dir
            / f"issue-{item.issue}"
            / ("reproduce-before" if which == "before" else f"attempt-{att}/reproduce-after")
        )
        r = self.cfg.reproduce
        stop = self.d.control.stop_event
        try:
            checkout = self.d.workspace.gate_checkout(base, head)
            test, path = _locate(checkout, item)
            spec = reproduce.build_spec(
                test,
                path,
                r.runner,
                r,
                folder / "build",
                package=str(item.source.get("package") or ""),
                stop_event=stop,
            )
            if which == "before":
                m, v = reproduce.measure_before(spec, r, folder / "logs", stop_event=stop)
            else:
                m, v = reproduce.measure_after(spec, before, r, folder / "logs", stop_event=stop)
        except UserError as e:
            log.warning("%s: cannot stress-run the test (%s): %s", item.id, which, e)
            return {"error": str(e)[:1000], "at": now_utc()}
        if m.ended == "stopped":
            raise StopRequested(f"stopped while stress-running {item.source['test']}")
        log.info("%s: %s the fix: %s", item.id, which, v.words)
        return reproduce.report(m, v) | v.to_json() | {"at": now_utc()}


def _locate(checkout: Path, item: Item) -> tuple[str, Path]:
    """The test's name for its runner and the folder to run it in: a pytest failure names its
    file (the node id is file::test, run from the root), a Go failure its package."""
    test, package = str(item.source["test"]), str(item.source.get("package") or "")
    if package.endswith(".py") and "::" not in test:
        return f"{package}::{test}", checkout
    return test, package_dir(checkout, package)
