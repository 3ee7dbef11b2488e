"""The layout of a supervisor home: supervisor.yaml, state/, logs/, worktrees/ (see DESIGN.md)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from supervisor.ids import IssueNumber


@dataclass(frozen=True)
class Home:
    root: Path

    @classmethod
    def resolve(cls, home: str | Path | None) -> Home:
        chosen = home or os.environ.get("SUPERVISOR_HOME") or "."
        return cls(Path(chosen).expanduser().resolve())

    # -- config
    @property
    def config_file(self) -> Path:
        return self.root / "supervisor.yaml"

    # -- state/
    @property
    def state(self) -> Path:
        return self.root / "state"

    @property
    def stop_file(self) -> Path:
        return self.state / "STOP"

    @property
    def lock_file(self) -> Path:
        return self.state / "supervisor.lock"

    @property
    def process_file(self) -> Path:
        return self.state / "supervisor.json"

    @property
    def items_dir(self) -> Path:
        return self.state / "items"

    @property
    def results_dir(self) -> Path:
        return self.state / "results"

    @property
    def runs_dir(self) -> Path:
        return self.state / "runs"

    @property
    def cursors_file(self) -> Path:
        return self.state / "cursors.json"

    @property
    def forge_dir(self) -> Path:
        return self.state / "forge"

    def result_file(self, issue: IssueNumber) -> Path:
        return self.results_dir / f"issue-{issue}.json"

    def attempt_dir(self, issue: IssueNumber, attempt: int) -> Path:
        return self.runs_dir / f"issue-{issue}" / f"attempt-{attempt}"

    # -- logs/
    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def log_file(self) -> Path:
        return self.logs / "supervisor.log"

    @property
    def events_file(self) -> Path:
        return self.logs / "events.jsonl"

    @property
    def crash_log(self) -> Path:
        return self.logs / "crash.log"

    # -- worktrees/
    @property
    def worktrees(self) -> Path:
        return self.root / "worktrees"

    @property
    def mirror(self) -> Path:
        return self.worktrees / "mirror.git"

    @property
    def gate(self) -> Path:
        return self.worktrees / "gate"

    @property
    def analysis(self) -> Path:
        """Where the analyst reads the code: detached, reset before every use."""
        return self.worktrees / "analysis"

    def issue_worktree(self, issue: IssueNumber) -> Path:
        return self.worktrees / f"issue-{issue}"

    def ensure_dirs(self) -> None:
        for d in (
            self.state,
            self.items_dir,
            self.results_dir,
            self.runs_dir,
            self.logs,
            self.worktrees,
            self.forge_dir,
        ):
            d.mkdir(parents=True, exist_ok=True)
