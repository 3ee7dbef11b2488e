"""Claude Code: `claude -p --output-format json --permission-mode acceptEdits
--allowedTools=LIST --max-turns N`, run in the worktree with the prompt on stdin.

The tools are given in the `--flag=value` form: a variadic flag would swallow a positional prompt.
The result object is read for `is_error` (true even when `subtype` is `success` in some failures),
`result`, `session_id`, `total_cost_usd`, `usage` and `num_turns`. Without credentials claude
answers at once with `is_error: true` and "Not logged in". A retry continues the session with
`--resume ID` from the same worktree.
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

# What each role may use: the reviewer and the analyst only read.
TOOLS = {
    "worker": "Read,Edit,Write,Glob,Grep,Bash",
    "reviewer": "Read,Glob,Grep",
    "analyst": "Read,Glob,Grep",
}
MAX_TURNS = 60
MAX_RESULT_BYTES = 16 << 20
_NOT_LOGGED_IN = re.compile(r"not logged in|please run /login|invalid api key", re.I)


class ClaudeAgent:
    name = "claude"
    supports_resume = True

    def __init__(self, control: RunControl, program: str = "claude") -> None:
        self.control = control
        self.program = program

    def argv(self, role: str, resume: str | None = None) -> list[str]:
        args = [
            self.program,
            "-p",
            "--output-format",
            "json",
            "--permission-mode",
            "acceptEdits",
            f"--allowedTools={TOOLS.get(role, TOOLS['reviewer'])}",
            "--max-turns",
            str(MAX_TURNS),
        ]
        return [*args, "--resume", resume] if resume else args

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
        r = self.control.spawn(
            self.argv(role, resume),
            role=role,
            item_id=item_id,
            prompt=prompt,
            cwd=cwd,
            timeout=timeout,
            log_path=log_path,
        )
        doc = _result(log_path)
        run = AgentRun(self.name, r.returncode, "", r.duration_s)
        if cut := ended_early(r, timeout):
            run.failure, run.detail = cut
            return run
        if doc is None:
            text = shell.tail((r.stderr or "").strip(), 500)
            if _NOT_LOGGED_IN.search(text):
                run.failure, run.detail = "not_logged_in", "claude is not logged in: `claude login`"
            elif (reset := usage_limit_reset(text)) is not None:
                run.failure, run.detail, run.retry_at = "usage_limit", text, reset
            elif r.returncode != 0:
                run.failure, run.detail = "crashed", f"exited with code {r.returncode}: {text}"
            else:
                run.failure, run.detail = "bad_output", "claude printed no JSON result object"
            run.detail = redact(run.detail)
            return run
        result = str(doc.get("result") or "")
        if not result and doc.get("errors"):  # error subtypes carry `errors`, no `result`
            result = "; ".join(str(e) for e in doc["errors"])[:2000]
        usage = doc.get("usage") or {}
        run.final_message = redact(result)
        run.session_id = doc.get("session_id")
        run.cost_usd = _number(doc.get("total_cost_usd"))
        run.tokens = {
            "input": int(usage.get("input_tokens") or 0),
            "output": int(usage.get("output_tokens") or 0),
            "cached_input": int(usage.get("cache_read_input_tokens") or 0),
        }
        if doc.get("is_error") or r.returncode != 0:
            if _NOT_LOGGED_IN.search(result):
                run.failure, run.detail = "not_logged_in", "claude is not logged in: `claude login`"
            elif (reset := usage_limit_reset(result)) is not None:
                run.failure, run.detail, run.retry_at = "usage_limit", result[:500], reset
            else:
                run.failure = "crashed"
                run.detail = f"{doc.get('subtype', 'error')}: {result[:500] or 'is_error'}"
            run.detail = redact(run.detail)
        return run


def _result(path: Path) -> dict[str, Any] | None:
    """The result object: the whole output as JSON, else its last line that is a result."""
    try:
        if path.stat().st_size > MAX_RESULT_BYTES:
            return None
        text = path.read_text(encoding="utf-8", errors="replace").strip()
    except FileNotFoundError:
        return None
    candidates = [text, *reversed(text.splitlines())]
    for chunk in candidates:
        try:
            doc = json.loads(chunk)
        except ValueError:
            continue
        if isinstance(doc, dict) and ("result" in doc or "is_error" in doc):
            return doc
    return None


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
