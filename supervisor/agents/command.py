"""The command adapter: any executable is an agent.

The prompt arrives on stdin and in $SUPERVISOR_PROMPT_FILE; cwd is the worktree; $SUPERVISOR_ROLE,
$SUPERVISOR_ITEM_ID and $SUPERVISOR_WORKTREE are set. Its stdout is its final message (and its raw
output, kept as agent.jsonl); a non-zero exit is a crash.
"""

from __future__ import annotations

from pathlib import Path

from supervisor import shell, store
from supervisor.agents.base import AgentRun, RunControl, ended_early
from supervisor.redact import redact

FINAL_MESSAGE_LIMIT = 64 * 1024


class CommandAgent:
    name = "command"

    def __init__(self, argv: tuple[str, ...], control: RunControl) -> None:
        self.argv = argv
        self.control = control

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
        log_path.parent.mkdir(parents=True, exist_ok=True)
        prompt_file = log_path.parent / f"{role}-prompt.md"
        store.write_text_atomic(prompt_file, prompt)
        try:
            r = self.control.spawn(
                self.argv,
                role=role,
                item_id=item_id,
                prompt=prompt,
                cwd=cwd,
                timeout=timeout,
                log_path=log_path,
                env={"SUPERVISOR_PROMPT_FILE": str(prompt_file)},
            )
        except shell.CommandError as e:  # the program is not there at all
            return AgentRun(
                self.name,
                e.result.returncode,
                "",
                0.0,
                "crashed",
                f"could not start {self.argv[0]}: {e.result.stderr}",
            )
        if r.stderr.strip():
            store.write_text_atomic(log_path.with_name(f"{role}-stderr.txt"), redact(r.stderr))
        message = redact(r.stdout[-FINAL_MESSAGE_LIMIT:]).strip()
        failure, detail = None, ""
        if cut := ended_early(r, timeout):
            failure, detail = cut
        elif r.returncode != 0:
            failure = "crashed"
            detail = f"exited with code {r.returncode}: {shell.tail(r.stderr.strip(), 500)}"
        return AgentRun(self.name, r.returncode, message, r.duration_s, failure, redact(detail))
