"""Run the gate commands (fast or slow) in the gate worktree and keep their output in gate.log."""

from __future__ import annotations

import shlex
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from supervisor import shell
from supervisor.items import now_utc
from supervisor.redact import redact, redact_file

LOG_TAIL_CHARS = 20_000


@dataclass(frozen=True)
class GateOutcome:
    level: str  # fast | slow
    ok: bool
    stopped: bool
    commands: list[dict[str, object]]  # [{command, exit_code, duration_s, timed_out}]
    failed_command: str | None = None
    output_tail: str = ""

    def describe(self) -> str:
        if self.ok:
            n = len(self.commands)
            return f"{self.level} gate passed ({n} command{'s' if n != 1 else ''})"
        if self.stopped:
            return f"{self.level} gate stopped by state/STOP"
        return f"{self.level} gate failed: `{self.failed_command}`"


def fill(command: str, values: Mapping[str, str]) -> str:
    """Replace {test} and {package} placeholders with shell-quoted values (empty when unknown)."""
    for key in ("test", "package"):
        command = command.replace(
            "{" + key + "}", shlex.quote(values.get(key, "")) if values.get(key) else ""
        )
    return command


def run_gate(
    level: str,
    commands: list[str],
    cwd: Path,
    log_path: Path,
    timeout: float,
    stop_event: threading.Event | None = None,
    values: Mapping[str, str] | None = None,
) -> GateOutcome:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    done: list[dict[str, object]] = []
    with open(log_path, "a", encoding="utf-8") as log:
        for index, raw in enumerate(commands, 1):
            command = fill(raw, values or {})
            log.write(f"\n=== {now_utc()} {level} gate in {cwd}\n$ {command}\n")
            log.flush()
            # The full output streams to its own file (it can be huge); the log keeps its tail.
            full = log_path.with_name(f"gate-{level}-{index}.out")
            r = shell.run(
                ["/bin/sh", "-c", command],
                cwd=cwd,
                timeout=timeout,
                check=False,
                stop_event=stop_event,
                stdout_path=full,
            )
            redact_file(full)
            output = (r.stdout + ("\n" + r.stderr if r.stderr else "")).strip()
            log.write(
                redact(shell.tail(output, LOG_TAIL_CHARS))
                + f"\n=== exit {r.returncode}"
                + (" (timed out)" if r.timed_out else "")
                + f" after {r.duration_s:.1f}s; full output: {full.name}\n"
            )
            log.flush()
            done.append(
                {
                    "command": command,
                    "exit_code": r.returncode,
                    "duration_s": round(r.duration_s, 3),
                    "timed_out": r.timed_out,
                }
            )
            if not r.ok:
                reason = "timed out" if r.timed_out else f"exit {r.returncode}"
                return GateOutcome(
                    level,
                    False,
                    r.stopped,
                    done,
                    f"{command} ({reason})",
                    redact(shell.tail(output, 3000)),
                )
    return GateOutcome(level, True, False, done)
