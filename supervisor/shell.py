"""The one door for subprocesses.

Every git, agent and gate command goes through :func:`run`: it logs the command shell-quoted (with
secrets redacted), sets a non-interactive environment, runs the command in its own process group,
applies a wall-clock timeout that kills the whole process tree, stops it gracefully when asked to,
and raises :class:`CommandError` with the command, its exit code and the tail of its output.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import select
import shlex
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import psutil

from supervisor.redact import redact

log = logging.getLogger("supervisor.shell")

NON_INTERACTIVE_ENV = {
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_EDITOR": "true",
    "GIT_SEQUENCE_EDITOR": "true",
    "GIT_PAGER": "cat",
    "PAGER": "cat",
    "SUPERVISOR": "1",
}
TAIL_CHARS = 4000
DEFAULT_GRACE_S = 5.0
_POLL_S = 0.2


@dataclass(frozen=True)
class CmdResult:
    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    duration_s: float
    timed_out: bool = False
    stopped: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out and not self.stopped


class CommandError(Exception):
    """A command failed: carries the command, its exit code and the tail of its output."""

    def __init__(self, result: CmdResult, cwd: Path | None = None) -> None:
        self.result = result
        self.cwd = cwd
        super().__init__(self._message())

    def _message(self) -> str:
        r = self.result
        if r.timed_out:
            what = f"timed out after {r.duration_s:.0f}s"
        elif r.stopped:
            what = "was stopped"
        else:
            what = f"exited with code {r.returncode}"
        parts = [f"command {what}: {quote(r.args)}"]
        if self.cwd is not None:
            parts.append(f"  in: {self.cwd}")
        for name, text in (("stdout", r.stdout), ("stderr", r.stderr)):
            text = text.strip()
            if text:
                parts.append(f"  {name} (last lines):\n" + _indent(tail(text, 1500)))
        return redact("\n".join(parts))


def quote(args: Sequence[str]) -> str:
    return " ".join(shlex.quote(a) for a in args)


def tail(text: str, limit: int = TAIL_CHARS) -> str:
    return text if len(text) <= limit else "…" + text[-limit:]


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())


def make_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(NON_INTERACTIVE_ENV)
    if extra:
        env.update(extra)
    return env


def kill_tree(pid: int, grace_s: float = DEFAULT_GRACE_S) -> None:
    """SIGTERM the process group and every descendant, then SIGKILL what is left after grace_s.

    Descendants that left the process group (setsid) are found through psutil and killed too.
    """
    procs = _tree(pid)
    _signal_group(pid, signal.SIGTERM)
    for p in procs:
        with contextlib.suppress(psutil.Error):
            p.terminate()
    alive = _wait_dead(procs, grace_s)
    procs = list({p.pid: p for p in [*alive, *_tree(pid)]}.values())
    _signal_group(pid, signal.SIGKILL)
    for p in procs:
        with contextlib.suppress(psutil.Error):
            p.kill()
    _wait_dead(procs, 5)


def _wait_dead(procs: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Wait until every process is gone or a zombie (dead, only not yet reaped by whoever is
    its parent now); the ones still alive after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        alive = [p for p in procs if _living(p)]
        if not alive or time.monotonic() >= deadline:
            return alive
        time.sleep(0.02)


def _living(p: psutil.Process) -> bool:
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _tree(pid: int) -> list[psutil.Process]:
    try:
        parent = psutil.Process(pid)
        return [parent, *parent.children(recursive=True)]
    except psutil.Error:
        return []


def _signal_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def run(
    args: Sequence[str],
    *,
    cwd: Path | str | None = None,
    env: Mapping[str, str] | None = None,
    input: str | None = None,
    timeout: float | None = None,
    check: bool = True,
    stop_event: threading.Event | None = None,
    grace_s: float = DEFAULT_GRACE_S,
    stdout_path: Path | None = None,
    on_start: Callable[[int], None] | None = None,
    quiet: bool = False,
) -> CmdResult:
    """Run a command; see the module docstring.

    stdout_path: write stdout to this file (kept) instead of a temporary one; the result's stdout
    is still the last TAIL_CHARS*16 characters of it. on_start receives the child's pid.
    """
    argv = tuple(str(a) for a in args)
    if not quiet:
        log.info("$ %s%s", redact(quote(argv)), f"  (in {cwd})" if cwd else "")
    start = time.monotonic()
    with contextlib.ExitStack() as stack:
        out = (
            stack.enter_context(open(stdout_path, "w+b"))
            if stdout_path
            else stack.enter_context(tempfile.TemporaryFile())
        )
        err = stack.enter_context(tempfile.TemporaryFile())
        try:
            proc = subprocess.Popen(
                argv,
                cwd=cwd,
                env=make_env(env),
                stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )
        except OSError as e:
            raise _start_error(argv, cwd, e) from e
        if on_start is not None:
            on_start(proc.pid)
        if input is not None:
            # A thread, so that a child that never reads its stdin cannot block us.
            threading.Thread(target=_feed_stdin, args=(proc, input), daemon=True).start()
        timed_out = stopped = False
        deadline = None if timeout is None else start + timeout
        waiter = stack.enter_context(_ExitWaiter(proc))
        while True:
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            if stop_event is None:
                wait_for = remaining
            else:
                wait_for = _POLL_S if remaining is None else min(_POLL_S, remaining)
            try:
                waiter.wait(wait_for)
                break
            except subprocess.TimeoutExpired:
                if deadline is not None and time.monotonic() >= deadline:
                    timed_out = True
                elif stop_event is not None and stop_event.is_set():
                    stopped = True
                else:
                    continue
                kill_tree(proc.pid, grace_s)
                proc.wait()
                break
        if timed_out or stopped:
            # Descendants that outlived the parent in its process group.
            _signal_group(proc.pid, signal.SIGKILL)
        result = CmdResult(
            argv,
            proc.returncode,
            _read_tail(out, None if stdout_path is None else TAIL_CHARS * 16),
            _read_tail(err, TAIL_CHARS * 16),
            time.monotonic() - start,
            timed_out,
            stopped,
        )
    if check and not result.ok:
        raise CommandError(result, Path(cwd) if cwd else None)
    return result


class _ExitWaiter:
    """Wait for a child's exit, waking the moment it exits (a pidfd where Linux has one).

    Popen.wait(timeout) polls with sleeps of up to 50 ms, which adds that much to every short git
    command; a pidfd in select() wakes at once and costs nothing while waiting.
    """

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.proc = proc
        self.fd: int | None = None

    def __enter__(self) -> _ExitWaiter:
        with contextlib.suppress(AttributeError, OSError):
            self.fd = os.pidfd_open(self.proc.pid)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            os.close(self.fd)

    def wait(self, timeout: float | None) -> None:
        """Return when the child exited; raise subprocess.TimeoutExpired after timeout."""
        if self.fd is None or timeout is None:
            self.proc.wait(timeout=timeout)
            return
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            raise subprocess.TimeoutExpired(self.proc.args, timeout)
        self.proc.wait()


def _start_error(argv: tuple[str, ...], cwd: Path | str | None, e: OSError) -> CommandError:
    """A command that could not be started at all, with the reason a shell would give."""
    where = Path(cwd) if cwd else None
    if where is not None and not where.is_dir():
        code, text = 127, f"the working folder {where} does not exist"
    elif isinstance(e, PermissionError):
        code, text = 126, f"{argv[0]}: permission denied: is it executable? (chmod +x {argv[0]})"
    elif isinstance(e, FileNotFoundError):
        code, text = 127, f"{argv[0]}: command not found ({e})"
    else:
        code, text = 126, f"{argv[0]}: cannot run it ({e})"
    return CommandError(CmdResult(argv, code, "", text, 0.0), where)


def _feed_stdin(proc: subprocess.Popen[bytes], text: str) -> None:
    assert proc.stdin is not None
    try:
        proc.stdin.write(text.encode())
    except BrokenPipeError:
        pass
    finally:
        with contextlib.suppress(BrokenPipeError):
            proc.stdin.close()


def _read_tail(f: IO[bytes], limit: int | None) -> str:
    size = f.seek(0, io.SEEK_END)
    start = 0 if limit is None or size <= limit else size - limit
    f.seek(start)
    data = f.read()
    assert isinstance(data, bytes)
    return data.decode("utf-8", errors="replace")
