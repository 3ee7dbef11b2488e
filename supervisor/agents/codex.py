"""OpenAI Codex: `codex exec --json --sandbox workspace-write --cd DIR --output-last-message F -`.

The prompt goes on stdin, which is then closed (codex waits for the end of its input otherwise).
The JSONL stream on stdout is kept as agent.jsonl and read line by line: `thread.started` gives the
session id, `turn.completed.usage` the cumulative tokens, `turn.failed` ends a failed run, `error`
events may be retries and do not end the run, unknown event types are ignored. Without credentials
codex retries forever: `codex login status` is checked first, and the timeout kills its whole
process group. A retry resumes the session with `codex exec [options] resume THREAD_ID -`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from supervisor import shell
from supervisor.agents.base import AgentRun, RunControl, ended_early
from supervisor.agents.limits import usage_limit_reset
from supervisor.redact import redact

_NOT_LOGGED_IN = re.compile(r"not logged in|401 Unauthorized|please log ?in|codex login", re.I)
# Only the worker writes; the reviewer and the analyst read the worktree.
SANDBOX = {"worker": "workspace-write", "reviewer": "read-only", "analyst": "read-only"}
MAX_LINE = 1 << 20  # a longer JSONL line is output nobody can use


class CodexAgent:
    name = "codex"
    supports_resume = True

    def __init__(self, control: RunControl, program: str = "codex") -> None:
        self.control = control
        self.program = program
        self.login_checked = False

    def argv(
        self, cwd: Path, last_message: Path, resume: str | None = None, role: str = "worker"
    ) -> list[str]:
        args = [
            self.program,
            "exec",
            "--json",
            "--sandbox",
            SANDBOX.get(role, "read-only"),
            "--cd",
            str(cwd),
            "--output-last-message",
            str(last_message),
        ]
        if resume:
            args += ["resume", resume]  # options before `resume`
        return [*args, "-"]

    def logged_in(self) -> tuple[bool, str]:
        r = shell.run([self.program, "login", "status"], check=False, timeout=30, quiet=True)
        text = (r.stdout + r.stderr).strip()
        return r.returncode == 0 and not _NOT_LOGGED_IN.search(text.replace("Logged in", "")), text

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
        last = log_path.with_name(f"{role}-last-message.txt")
        last.unlink(missing_ok=True)
        r = self.control.spawn(
            self.argv(cwd, last, resume, role),
            role=role,
            item_id=item_id,
            prompt=prompt,
            cwd=cwd,
            timeout=timeout,
            log_path=log_path,
        )
        events = read_events(log_path)
        message = (
            last.read_text(encoding="utf-8", errors="replace").strip() if last.exists() else ""
        )
        run = AgentRun(
            self.name,
            r.returncode,
            redact(message),
            r.duration_s,
            session_id=events["thread_id"],
            tokens=events["tokens"],
        )
        errors = " ".join(events["errors"] + [r.stderr[-2000:]])
        if cut := ended_early(r, timeout):
            run.failure, run.detail = cut
            if cut[0] == "timeout" and _NOT_LOGGED_IN.search(errors):
                run.failure, run.detail = "not_logged_in", "codex is not logged in (it retried)"
        elif (reset := usage_limit_reset(errors)) is not None:
            run.failure, run.detail, run.retry_at = "usage_limit", _first(errors), reset
        elif events["failed"] is not None or r.returncode != 0:
            if _NOT_LOGGED_IN.search(errors):
                run.failure, run.detail = "not_logged_in", "codex is not logged in: `codex login`"
            else:
                run.failure = "crashed"
                run.detail = (
                    events["failed"] or f"exited with code {r.returncode}: {_first(errors)}"
                )
        elif not events["parsed"]:
            run.failure, run.detail = "bad_output", "codex printed no JSON event"
        elif not events["completed"]:
            run.failure, run.detail = "bad_output", "codex ended without completing its turn"
        run.detail = redact(run.detail)
        return run


def read_events(path: Path) -> dict[str, Any]:
    """What the JSONL stream says, read line by line (a huge or garbled stream stays bounded)."""
    out: dict[str, Any] = {
        "completed": False,
        "thread_id": None,
        "failed": None,
        "errors": [],
        "parsed": 0,
        "tokens": {"input": 0, "output": 0, "cached_input": 0},
    }
    try:
        f = open(path, "rb")  # noqa: SIM115
    except FileNotFoundError:
        return out
    with f:
        for raw in f:
            if len(raw) > MAX_LINE:
                continue
            try:
                event = json.loads(raw)
            except ValueError:
                continue
            if not isinstance(event, dict):
                continue
            out["parsed"] += 1
            kind = event.get("type")
            if kind == "thread.started":
                out["thread_id"] = event.get("thread_id")
            elif kind == "turn.completed":
                out["completed"] = True
                usage = event.get("usage") or {}
                out["tokens"] = {
                    "input": int(usage.get("input_tokens") or 0),
                    "output": int(usage.get("output_tokens") or 0),
                    "cached_input": int(usage.get("cached_input_tokens") or 0),
                }
            elif kind == "turn.failed":
                error = event.get("error") or {}
                out["failed"] = str(error.get("message") or "turn failed")[:2000]
                out["errors"].append(out["failed"])
            elif kind == "error":
                out["errors"].append(str(event.get("message") or "")[:2000])
    if len(out["errors"]) > 50:
        out["errors"] = out["errors"][-50:]
    return out


def _first(text: str) -> str:
    return shell.tail(" ".join(text.split()), 500)
