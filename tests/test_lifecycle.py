"""The process around the chain: lock, STOP, kill -9, background runs, status; real processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest
from conftest import WORKER, git, init_home, make_target, run_cli, supervisor_cmd


def wait_for(cond: Callable[[], bool], timeout: float = 30, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def process_doc(home: Path) -> dict:
    try:
        return json.loads((home / "state" / "supervisor.json").read_text())
    except (FileNotFoundError, ValueError):
        return {}


def worker_pids(home: Path | None = None) -> list[int]:
    """Fake workers running (in this home's worktrees, when given: tests may run side by side)."""
    out = []
    for p in psutil.process_iter(["cmdline", "cwd"]):
        cmd = p.info["cmdline"] or []
        if str(WORKER) in cmd and (home is None or str(p.info["cwd"] or "").startswith(str(home))):
            out.append(p.pid)
    return out


@pytest.fixture
def procs(tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for p in started:
        if p.poll() is None:
            p.kill()
            p.wait()
    for pid in worker_pids(tmp_path):
        psutil.Process(pid).kill()


def spawn(
    home: Path, procs: list, *args: str, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    p = subprocess.Popen(
        supervisor_cmd(home, *args),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
    )
    procs.append(p)
    return p


@pytest.fixture
def slow_home(tmp_path: Path) -> Path:
    target = make_target(tmp_path / "t", ["Create done/a.txt", "Create done/b.txt"])
    return init_home(tmp_path / "h", target)


def test_second_start_is_refused_while_running(slow_home: Path, procs: list) -> None:
    first = spawn(slow_home, procs, "start", "--until-idle", env={"FAKE_WORKER_SLEEP": "30"})
    wait_for(lambda: process_doc(slow_home).get("phase") == "fixing", what="the first to work")
    second = subprocess.run(
        supervisor_cmd(slow_home, "start", "--once"), capture_output=True, text=True, timeout=60
    )
    assert second.returncode == 1
    assert f"already running (pid {first.pid})" in second.stderr
    status = json.loads(run_cli(slow_home, "status", "--json").stdout)
    assert status["running"] and status["pid"] == first.pid and status["phase"] == "fixing"
    assert status["item"].startswith("task-")


def test_stop_while_agent_runs_is_noticed_at_once_and_resumable(
    slow_home: Path, procs: list
) -> None:
    sup = spawn(slow_home, procs, "start", "--until-idle", env={"FAKE_WORKER_SLEEP": "600"})
    wait_for(lambda: bool(worker_pids(slow_home)), what="the worker to start")
    wait_for(lambda: process_doc(slow_home).get("child"), what="the child to be recorded")
    snapshot = sorted(str(p) for p in (slow_home / "worktrees").rglob("*"))
    t0 = time.monotonic()
    (slow_home / "state" / "STOP").touch()
    code = sup.wait(timeout=30)
    elapsed = time.monotonic() - t0
    output = sup.stdout.read().decode() if sup.stdout else ""
    assert code == 0, output
    # noticed within a second; the worker (which ignores nothing) ends on SIGTERM at once
    assert elapsed < 3, elapsed
    assert worker_pids(slow_home) == []
    assert "stopped (state/STOP)" in output
    # nothing was removed, and the item is resumable: still fixing, its attempt still running
    assert sorted(str(p) for p in (slow_home / "worktrees").rglob("*")) == snapshot
    doc = process_doc(slow_home)
    assert doc["state"] == "exited" and "STOP" in doc["exit_reason"]
    [item] = [
        json.loads(p.read_text())
        for p in (slow_home / "state" / "items").glob("*.json")
        if json.loads(p.read_text())["state"] == "fixing"
    ]
    assert item["attempts"][-1]["status"] == "running"
    # start refuses while STOP exists, and says how to clear it
    r = run_cli(slow_home, "start", "--once")
    assert r.exit_code == 1 and "rm " in r.stderr and "STOP" in r.stderr
    # cleared: it resumes and finishes, the interrupted attempt not counted as a failure
    (slow_home / "state" / "STOP").unlink()
    r = run_cli(slow_home, "start", "--until-idle")
    assert r.exit_code == 0, r.output
    states = [json.loads(p.read_text()) for p in (slow_home / "state" / "items").glob("*.json")]
    assert [i["state"] for i in states] == ["merged", "merged"]
    assert all(a["status"] != "failed" for i in states for a in i["attempts"])


def test_stop_command_waits_for_exit(slow_home: Path, procs: list) -> None:
    spawn(slow_home, procs, "start", env={"FAKE_WORKER_SLEEP": "600"})
    wait_for(lambda: bool(worker_pids(slow_home)), what="the worker to start")
    r = subprocess.run(
        supervisor_cmd(slow_home, "stop", "--wait", "--timeout", "30"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert "asked the supervisor" in r.stdout and "stopped" in r.stdout
    assert not json.loads(run_cli(slow_home, "status", "--json").stdout)["running"]
    assert worker_pids(slow_home) == []


def test_sigterm_stops_like_stop_with_exit_130(slow_home: Path, procs: list) -> None:
    sup = spawn(slow_home, procs, "start", env={"FAKE_WORKER_SLEEP": "600"})
    wait_for(lambda: bool(worker_pids(slow_home)), what="the worker to start")
    sup.send_signal(signal.SIGTERM)
    assert sup.wait(timeout=30) == 130
    assert worker_pids(slow_home) == []
    assert not (slow_home / "state" / "STOP").exists()


def test_kill_9_then_restart_runs_normally_and_reaps_the_orphan(
    slow_home: Path, procs: list
) -> None:
    sup = spawn(slow_home, procs, "start", "--until-idle", env={"FAKE_WORKER_SLEEP": "600"})
    wait_for(lambda: bool(worker_pids(slow_home)), what="the worker to start")
    wait_for(lambda: process_doc(slow_home).get("child"), what="the child to be recorded")
    orphan = worker_pids(slow_home)
    sup.kill()
    sup.wait()
    assert worker_pids(slow_home) == orphan  # the agent outlived its supervisor (own session)
    # the status is not fooled by the stale pid file
    assert not json.loads(run_cli(slow_home, "status", "--json").stdout)["running"]
    r = run_cli(slow_home, "start", "--until-idle")
    assert r.exit_code == 0, r.output
    assert "killed an agent process left behind" in r.stdout
    assert all(
        not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie" for pid in orphan
    )
    states = [
        json.loads(p.read_text())["state"] for p in (slow_home / "state" / "items").glob("*.json")
    ]
    assert states == ["merged", "merged"]


def test_background_start_survives_and_reports_status(slow_home: Path) -> None:
    r = subprocess.run(
        supervisor_cmd(slow_home, "start", "--background"),
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "FAKE_WORKER_SLEEP": "600"},
        stdin=subprocess.DEVNULL,
    )
    try:
        assert r.returncode == 0, r.stderr
        assert "started in the background" in r.stdout
        status = json.loads(run_cli(slow_home, "status", "--json").stdout)
        assert status["running"]
        pid = status["pid"]
        # detached: its own session, not a child of the command that started it
        assert os.getsid(pid) == pid
        wait_for(lambda: bool(worker_pids(slow_home)), what="the worker to start")
        text = run_cli(slow_home, "status").stdout
        assert f"running (pid {pid})" in text and "phase: fixing" in text
        assert "supervisor.shell" in (slow_home / "logs" / "supervisor.log").read_text()
        again = run_cli(slow_home, "start", "--background")
        assert again.exit_code == 1 and f"already running (pid {pid})" in again.stderr
    finally:
        stop = subprocess.run(
            supervisor_cmd(slow_home, "stop", "--wait", "--timeout", "30"),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert stop.returncode == 0, stop.stderr
    assert worker_pids(slow_home) == []


def test_stop_when_not_running_leaves_stop_and_says_so(slow_home: Path) -> None:
    r = run_cli(slow_home, "stop")
    assert r.exit_code == 0
    assert "not running" in r.stdout and (slow_home / "state" / "STOP").exists()


def test_idle_run_notices_stop_within_a_second(tmp_path: Path, procs: list) -> None:
    target = make_target(tmp_path / "t", [])
    home = init_home(tmp_path / "h", target)
    sup = spawn(home, procs, "start")
    wait_for(lambda: process_doc(home).get("phase") == "waiting", what="idle")
    t0 = time.monotonic()
    (home / "state" / "STOP").touch()
    assert sup.wait(timeout=10) == 0
    assert time.monotonic() - t0 < 1.5


def test_agent_sees_its_environment(tmp_path: Path) -> None:
    target = make_target(tmp_path / "t", ["Create done/env.txt"])
    script = tmp_path / "envworker.sh"
    script.write_text(
        "#!/bin/sh\ncat > prompt.txt.seen\nmkdir -p done\n"
        'echo "$SUPERVISOR_ROLE $SUPERVISOR_ITEM_ID $SUPERVISOR_WORKTREE $GIT_TERMINAL_PROMPT" '
        "> done/env.txt\n"
        'cmp -s prompt.txt.seen "$SUPERVISOR_PROMPT_FILE" && rm prompt.txt.seen\n'
    )
    script.chmod(0o755)
    home = init_home(tmp_path / "h", target, worker=str(script))
    r = run_cli(home, "start", "--until-idle")
    assert r.exit_code == 0, r.output
    role, item_id, worktree, prompt = (target / "done" / "env.txt").read_text().split()
    assert role == "worker" and item_id.startswith("task-") and prompt == "0"
    assert worktree.startswith(str(home / "worktrees" / "issue-"))
    assert not (target / "prompt.txt.seen").exists()  # the prompt on stdin matched the file
    assert git(target, "log", "-1", "--format=%s") == "Check off: Create done/env.txt"


def test_stale_git_locks_from_a_killed_git_are_removed_on_start(slow_home: Path) -> None:
    r = run_cli(slow_home, "start", "--max-items", "1")
    assert r.exit_code == 0, r.output
    mirror = slow_home / "worktrees" / "mirror.git"
    wt_gitdirs = list((mirror / "worktrees").iterdir())
    assert wt_gitdirs
    locks = [d / "index.lock" for d in wt_gitdirs] + [mirror / "refs" / "heads" / "main.lock"]
    for lock in locks:
        lock.write_text("")
    r = run_cli(slow_home, "start", "--until-idle")
    assert r.exit_code == 0, r.output
    assert not any(lock.exists() for lock in locks)
    states = [
        json.loads(p.read_text())["state"] for p in (slow_home / "state" / "items").glob("*.json")
    ]
    assert states == ["merged", "merged"]


def test_heartbeat_is_refreshed_while_an_agent_runs(
    slow_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from supervisor import runner

    monkeypatch.setattr(runner, "HEARTBEAT_S", 0.2)
    monkeypatch.setenv("FAKE_WORKER_SLEEP", "2.5")
    done = threading.Event()
    thread = threading.Thread(
        target=lambda: (run_cli(slow_home, "start", "--max-items", "1"), done.set())
    )
    thread.start()
    beats = set()
    try:
        wait_for(lambda: process_doc(slow_home).get("phase") == "fixing", what="the worker")
        while not done.is_set() and process_doc(slow_home).get("phase") == "fixing":
            beats.add(process_doc(slow_home).get("heartbeat"))
            time.sleep(0.05)
    finally:
        thread.join(timeout=60)
    beats.discard(None)
    assert len(beats) >= 2, beats  # the heartbeat moved on while the phase stayed the same
