"""The one door for subprocesses: results, errors, timeouts that kill the tree, stop, stdin, env."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import time
import uuid
from pathlib import Path

import psutil
import pytest

from supervisor import shell
from supervisor.redact import redact

IGNORES_SIGTERM = (
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "print('ready', flush=True); time.sleep(310)"
)


def tagged_env() -> tuple[dict[str, str], str]:
    tag = uuid.uuid4().hex
    return {"SUPERVISOR_TEST_TAG": tag}, tag


def tagged_alive(tag: str) -> list[psutil.Process]:
    """Live (not zombie) processes started with SUPERVISOR_TEST_TAG=tag."""
    out = []
    for p in psutil.process_iter():
        try:
            if p.environ().get("SUPERVISOR_TEST_TAG") == tag and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except psutil.Error:
            continue
    return out


def wait_all_gone(tag: str, within: float = 3.0) -> list[psutil.Process]:
    deadline = time.monotonic() + within
    while True:
        alive = tagged_alive(tag)
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.05)


def wait_for(tag: str, count: int, within: float = 5.0) -> list[list[str]]:
    """Wait until count tagged processes run; their command lines."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        cmdlines = []
        for p in tagged_alive(tag):
            try:
                cmdlines.append(p.cmdline())
            except psutil.Error:
                continue
        if len(cmdlines) >= count:
            return cmdlines
        time.sleep(0.05)
    raise AssertionError(f"fewer than {count} processes started")


# -- results and errors -------------------------------------------------------------------------


def test_run_returns_output_and_exit_code(tmp_path: Path) -> None:
    r = shell.run(["sh", "-c", "echo out; echo err >&2; pwd; exit 3"], cwd=tmp_path, check=False)
    assert r.returncode == 3
    assert r.stdout == f"out\n{tmp_path}\n"
    assert r.stderr == "err\n"
    assert r.args == ("sh", "-c", "echo out; echo err >&2; pwd; exit 3")
    assert not r.ok
    assert not r.timed_out and not r.stopped
    assert r.duration_s >= 0
    assert shell.run(["true"]).ok


def test_check_raises_with_command_code_and_stderr_tail(tmp_path: Path) -> None:
    script = "for i in $(seq 1 2000); do echo line-$i >&2; done; echo final words >&2; exit 4"
    with pytest.raises(shell.CommandError) as info:
        shell.run(["sh", "-c", script, "my arg"], cwd=tmp_path)
    message = str(info.value)
    lines = message.splitlines()
    assert lines[0] == f"command exited with code 4: sh -c '{script}' 'my arg'"
    assert lines[1] == f"  in: {tmp_path}"
    assert lines[2] == "  stderr (last lines):"
    assert lines[-1] == "    final words"
    assert lines[-2] == "    line-2000"
    assert "line-1\n" not in message  # only the tail
    assert len(message) < 2500
    assert info.value.result.returncode == 4


def test_stdout_tail_is_in_the_error_too() -> None:
    with pytest.raises(shell.CommandError) as info:
        shell.run(["sh", "-c", "echo FAIL: TestFoo; exit 1"])
    assert str(info.value) == (
        "command exited with code 1: sh -c 'echo FAIL: TestFoo; exit 1'\n"
        "  stdout (last lines):\n"
        "    FAIL: TestFoo"
    )


def test_a_missing_program_is_code_127() -> None:
    with pytest.raises(shell.CommandError) as info:
        shell.run(["no-such-program-xyz", "--flag"])
    assert info.value.result.returncode == 127
    message = str(info.value)
    assert message.startswith("command exited with code 127: no-such-program-xyz --flag\n")
    assert "no-such-program-xyz: command not found" in message


def test_a_program_that_is_not_executable_is_a_command_error(tmp_path: Path) -> None:
    script = tmp_path / "agent.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    with pytest.raises(shell.CommandError) as info:
        shell.run([str(script)])
    assert info.value.result.returncode == 126


def test_a_missing_cwd_is_not_reported_as_a_missing_program(tmp_path: Path) -> None:
    with pytest.raises(shell.CommandError) as info:
        shell.run(["true"], cwd=tmp_path / "gone")
    assert "command not found" not in str(info.value)
    assert str(tmp_path / "gone") in str(info.value)


# -- timeouts and stop --------------------------------------------------------------------------


def test_timeout_kills_the_whole_tree() -> None:
    env, tag = tagged_env()
    script = f'sleep 300 & setsid sleep 301 & {sys.executable} -c "{IGNORES_SIGTERM}" & sleep 302'
    seen: list[tuple[list[str], int]] = []

    def observe() -> None:
        wait_for(tag, 5)
        for p in tagged_alive(tag):
            with contextlib.suppress(psutil.Error, OSError):
                seen.append((p.cmdline(), os.getsid(p.pid)))

    observer = threading.Thread(target=observe)
    observer.start()
    start = time.monotonic()
    r = shell.run(["sh", "-c", script], env=env, timeout=1.5, grace_s=0.5, check=False)
    elapsed = time.monotonic() - start
    observer.join()

    # The tree was there: three sleeps, one in a session of its own, and a stubborn python.
    cmdlines = [c for c, _ in seen]
    for n in ("300", "301", "302"):
        assert ["sleep", n] in cmdlines
    assert len({sid for c, sid in seen if c[0] == "sleep"}) == 2
    assert "ready" in r.stdout  # SIGTERM was ignored before the timeout came
    assert r.timed_out is True
    assert not r.ok
    assert 1.5 <= elapsed < 7
    assert wait_all_gone(tag) == []


def test_timeout_with_check_raises() -> None:
    env, tag = tagged_env()
    with pytest.raises(shell.CommandError) as info:
        shell.run(["sleep", "305"], env=env, timeout=0.5, grace_s=0.5)
    assert info.value.result.timed_out
    assert str(info.value).startswith("command timed out after ")
    assert str(info.value).endswith("s: sleep 305")
    assert wait_all_gone(tag) == []


def test_stop_event_stops_the_tree() -> None:
    env, tag = tagged_env()
    stop = threading.Event()
    script = f'sleep 303 & setsid sleep 304 & {sys.executable} -c "{IGNORES_SIGTERM}"; wait'

    def stop_when_running() -> None:
        wait_for(tag, 4)
        time.sleep(0.3)  # python has installed its SIGTERM handler
        stop.set()

    setter = threading.Thread(target=stop_when_running)
    setter.start()
    r = shell.run(["sh", "-c", script], env=env, stop_event=stop, grace_s=0.5, check=False)
    setter.join()

    assert r.stopped is True
    assert r.timed_out is False
    assert "ready" in r.stdout
    assert not r.ok
    assert r.duration_s < 8
    assert wait_all_gone(tag) == []


def test_stop_with_check_raises_was_stopped() -> None:
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    with pytest.raises(shell.CommandError) as info:
        shell.run(["sleep", "306"], stop_event=stop, grace_s=0.5)
    assert str(info.value) == "command was stopped: sleep 306"


def test_on_start_receives_the_child_pid() -> None:
    pids: list[int] = []
    r = shell.run(["sh", "-c", "echo $$"], on_start=pids.append)
    assert pids == [int(r.stdout)]


# -- stdin, stdout, env -------------------------------------------------------------------------


def test_input_is_passed_on_stdin() -> None:
    r = shell.run(["cat"], input="hello\nwörld\n")
    assert r.stdout == "hello\nwörld\n"


def test_no_input_means_stdin_is_empty() -> None:
    assert shell.run(["cat"], timeout=10).stdout == ""


@pytest.mark.parametrize("program", [["true"], ["sleep", "0.3"]])
def test_a_child_that_never_reads_a_big_stdin_does_not_deadlock(program: list[str]) -> None:
    start = time.monotonic()
    r = shell.run(program, input="x" * 10_000_000, timeout=20, check=False)
    assert r.returncode == 0
    assert not r.timed_out
    assert time.monotonic() - start < 10


def test_a_big_stdin_read_in_full() -> None:
    r = shell.run(["wc", "-c"], input="y" * 10_000_000, timeout=20)
    assert r.stdout.strip() == "10000000"


def test_stdout_path_keeps_the_output(tmp_path: Path) -> None:
    log = tmp_path / "agent.jsonl"
    r = shell.run(["sh", "-c", "echo one; echo two"], stdout_path=log)
    assert log.read_text() == "one\ntwo\n"
    assert r.stdout == "one\ntwo\n"


def test_environment_is_non_interactive() -> None:
    r = shell.run(
        ["sh", "-c", 'echo "$GIT_TERMINAL_PROMPT $SUPERVISOR $GIT_EDITOR $PAGER $EXTRA"'],
        env={"EXTRA": "yes"},
    )
    assert r.stdout == "0 1 true cat yes\n"


# -- secrets ------------------------------------------------------------------------------------


def test_a_token_from_the_environment_is_redacted_from_the_log(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "s3cr3t-deploy-value-42"
    monkeypatch.setenv("DEPLOY_TOKEN", secret)
    with caplog.at_level(logging.INFO, logger="supervisor.shell"):
        shell.run(["git", "ls-remote", f"https://x:{secret}@example.invalid/r"], check=False)
    commands = [r.getMessage() for r in caplog.records if r.name == "supervisor.shell"]
    assert commands == ["$ git ls-remote https://x:***@example.invalid/r"]
    assert secret not in caplog.text


def test_a_secret_in_stderr_is_redacted_from_the_error(monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "s3cr3t-deploy-value-42"
    monkeypatch.setenv("DEPLOY_TOKEN", secret)
    with pytest.raises(shell.CommandError) as info:
        shell.run(["sh", "-c", f"echo bad {secret} >&2; exit 1"])
    assert secret not in str(info.value)
    assert "    bad ***" in str(info.value)


def test_quiet_does_not_log(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="supervisor.shell"):
        shell.run(["true"], quiet=True)
    assert [r for r in caplog.records if r.name == "supervisor.shell"] == []


def test_redact_masks_token_shapes() -> None:
    ghp = "ghp_" + "A1b2C3d4" * 5
    slack = "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXX"
    text = f"token={ghp} url={slack} end"
    assert redact(text) == "token=*** url=*** end"
    assert redact("nothing secret here") == "nothing secret here"
    assert redact("ghp_short") == "ghp_short"


def test_redact_masks_extra_values() -> None:
    assert redact("password is hunter22", extra=["hunter22"]) == "password is ***"
