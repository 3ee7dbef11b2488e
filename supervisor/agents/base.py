"""The Agent interface: run(role, prompt, cwd, timeout, log_path) -> AgentRun.

The supervisor decides what happened from what it observes (exit code, output, the diff); an
adapter only reports what the CLI did. Failure kinds: timeout, stopped (state/STOP), not_logged_in,
usage_limit, crashed, bad_output. ``no_change`` is decided by the chain, from the diff.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from supervisor import shell
from supervisor.redact import redact_file

FAILURE_KINDS = (
    "timeout",
    "stopped",
    "not_logged_in",
    "usage_limit",
    "crashed",
    "bad_output",
    "no_change",
)


@dataclass
class AgentRun:
    name: str
    exit_code: int | None
    final_message: str
    duration_s: float
    failure: str | None = None  # one of FAILURE_KINDS, None on success
    detail: str = ""  # what went wrong, in words
    session_id: str | None = None
    tokens: dict[str, int] = field(
        default_factory=lambda: {"input": 0, "output": 0, "cached_input": 0}
    )
    cost_usd: float | None = None
    retry_at: float | None = None  # usage_limit: when the subscription's limit resets (epoch)

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "exit_code": self.exit_code,
            "session_id": self.session_id,
            "tokens": self.tokens,
            "cost_usd": self.cost_usd,
        }


@dataclass
class RunControl:
    """What the supervisor gives every agent run: STOP, the grace period, pid tracking."""

    stop_event: threading.Event = field(default_factory=threading.Event)
    grace_s: float = 10.0
    on_start: Callable[[int], None] | None = None

    def spawn(
        self,
        argv: Sequence[str],
        *,
        role: str,
        item_id: str,
        prompt: str,
        cwd: Path,
        timeout: float,
        log_path: Path,
        env: Mapping[str, str] | None = None,
    ) -> shell.CmdResult:
        """Run one agent process the way every adapter does: in the worktree, the prompt on
        stdin, its stdout kept (redacted) at log_path, stopped by STOP or the timeout with its
        whole process tree, its pid recorded so a later start can reap it after a kill -9."""
        log_path.parent.mkdir(parents=True, exist_ok=True)
        r = shell.run(
            argv,
            cwd=cwd,
            input=prompt,
            timeout=timeout,
            check=False,
            stop_event=self.stop_event,
            grace_s=self.grace_s,
            stdout_path=log_path,
            on_start=self.on_start,
            env={
                "SUPERVISOR_ROLE": role,
                "SUPERVISOR_ITEM_ID": item_id,
                "SUPERVISOR_WORKTREE": str(cwd),
                **(env or {}),
            },
        )
        redact_file(log_path)
        return r


def ended_early(r: shell.CmdResult, timeout: float) -> tuple[str, str] | None:
    """(failure kind, detail) when the run was cut short by STOP or its timeout, else None."""
    if r.stopped:
        return "stopped", "stopped by state/STOP"
    if r.timed_out:
        return "timeout", f"still running after {timeout:.0f}s; its process tree was killed"
    return None


class Agent(Protocol):
    name: str

    def run(
        self,
        role: str,
        prompt: str,
        cwd: Path,
        timeout: float,
        log_path: Path,
        *,
        item_id: str = "",
        resume: str | None = None,
    ) -> AgentRun:
        """resume: a session id of an earlier run to continue, where the CLI supports it."""
