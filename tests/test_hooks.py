"""Hooks: a post-merge hook restarts a small HTTP server on loopback and its health URL is
polled; a failing hook never stops the chain; a hook that keeps failing is paused; what a hook
leaves running is tracked by its real pid and stopped with the supervisor."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import requests
from conftest import init_home, make_target, run_cli, supervisor_cmd
from test_conversation import configure

from supervisor.config import Hooks
from supervisor.home import Home
from supervisor.hooks import HOOK_STORM, HookRunner, tracked
from supervisor.items import EventLog


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(port: int, folder: Path) -> str:
    """A hook that (re)starts a small HTTP server in the background, as a deploy script would."""
    pid = folder / "server.pid"
    return (
        f"[ -f {pid} ] && kill $(cat {pid}) 2>/dev/null; "
        f"nohup {sys.executable} -m http.server {port} --bind 127.0.0.1 "
        f"--directory {folder} >/dev/null 2>&1 & echo $! > {pid}"
    )


def events(home: Path) -> list[dict]:
    path = home / "logs" / "events.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_post_merge_restarts_a_service_polls_its_health_and_stop_ends_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    target = make_target(tmp_path / "t", ["Create done/a.txt"])
    home = init_home(tmp_path / "h", target)
    configure(
        home,
        post_merge=json.dumps([serve(port, target)]),
        health_url=f"http://127.0.0.1:{port}/",
    )
    monkeypatch.setenv("SUPERVISOR_HOOKS_TIMEOUT", "20s")
    proc = subprocess.Popen(supervisor_cmd(home, "start"), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not tracked(Home.resolve(home)):
            time.sleep(0.2)
        [left] = tracked(Home.resolve(home))
        while (
            time.monotonic() < deadline
            and "is healthy" not in (home / "logs" / "supervisor.log").read_text()
        ):
            time.sleep(0.2)  # the supervisor polls the health URL after the hook
        assert requests.get(f"http://127.0.0.1:{port}/", timeout=5).ok  # the service is up
        status = run_cli(home, "status").stdout
        assert f"left running by hooks.post_merge: pid {left['pid']}" in status
        (home / "state" / "STOP").touch()
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    log = (home / "logs" / "supervisor.log").read_text()
    assert f"hooks: http://127.0.0.1:{port}/ is healthy" in log
    assert f"stopped pid {left['pid']}, left running by hooks.post_merge" in log
    assert not [e for e in events(home) if e.get("event") == "hook_failed"]
    assert not psutil.pid_exists(left["pid"]) or psutil.Process(left["pid"]).status() == "zombie"
    assert tracked(Home.resolve(home)) == []
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/", timeout=2)


def test_after_a_night_that_ends_by_itself_the_service_runs_on_tracked(tmp_path: Path) -> None:
    port = free_port()
    target = make_target(tmp_path / "t", ["Create done/a.txt"])
    home = init_home(tmp_path / "h", target)
    configure(home, post_merge=json.dumps([serve(port, target)]))
    assert run_cli(home, "start", "--until-idle").exit_code == 0
    try:
        [left] = tracked(Home.resolve(home))  # cron's --once or --until-idle: it runs on
        assert f"pid {left['pid']}" in run_cli(home, "status").stdout
    finally:
        HookRunner(Home.resolve(home), Hooks(), EventLog(home / "logs" / "e.jsonl")).stop_tracked()
    assert tracked(Home.resolve(home)) == []


def test_a_failing_hook_is_reported_and_never_stops_the_chain(tmp_path: Path) -> None:
    target = make_target(tmp_path / "t", ["Create done/a.txt", "Create done/b.txt"])
    home = init_home(tmp_path / "h", target)
    configure(
        home, post_merge=json.dumps(["echo restarting; exit 3"]), on_stop=json.dumps(["false"])
    )
    r = run_cli(home, "start", "--until-idle")
    assert r.exit_code == 0, r.output
    items = [json.loads(p.read_text()) for p in (home / "state" / "items").glob("*.json")]
    assert {i["state"] for i in items} == {"merged"}
    failed = [e for e in events(home) if e.get("event") == "hook_failed"]
    assert [e["hook"] for e in failed] == ["post_merge", "post_merge", "on_stop"]
    assert "exit 3" in failed[0]["reason"]
    outputs = list((home / "logs" / "hooks").glob("post_merge-*.log"))
    assert outputs and "restarting" in outputs[0].read_text()


def test_a_hook_that_keeps_failing_is_paused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    home = Home.resolve(tmp_path / "h")
    home.ensure_dirs()
    runner = HookRunner(home, Hooks(on_failure=["exit 1"], timeout=5.0), EventLog(home.events_file))
    results = [runner.run("on_failure") for _ in range(HOOK_STORM + 2)]
    assert results == [False] * (HOOK_STORM + 2)
    ran = [e for e in EventLog(home.events_file).read() if e.get("event") == "hook_failed"]
    assert len(ran) == HOOK_STORM  # then paused: not run at all
    assert "hooks.on_failure is paused: it failed 3 times in 10 minutes" in caplog.text


def test_a_hook_that_hangs_is_killed_at_its_timeout(tmp_path: Path) -> None:
    home = Home.resolve(tmp_path / "h")
    home.ensure_dirs()
    runner = HookRunner(home, Hooks(on_stop=["sleep 300"], timeout=1.0), EventLog(home.events_file))
    assert runner.run("on_stop") is False
    [failed] = [e for e in EventLog(home.events_file).read() if e.get("event") == "hook_failed"]
    assert "still running after 1s, killed" in failed["reason"]
    assert not [
        p
        for p in psutil.process_iter(["cmdline"])
        if (p.info["cmdline"] or [])[-1:] == ["sleep 300"]
    ]


def test_what_a_hook_leaves_running_is_tracked_by_its_real_pid(tmp_path: Path) -> None:
    home = Home.resolve(tmp_path / "h")
    home.ensure_dirs()
    hook = "nohup sleep 300 >/dev/null 2>&1 &"  # the wrapper (sh) exits at once
    runner = HookRunner(home, Hooks(post_merge=[hook], timeout=10.0), EventLog(home.events_file))
    assert runner.run("post_merge") is True
    [left] = tracked(home)
    proc = psutil.Process(left["pid"])
    for _ in range(100):  # a fork that has not exec'd sleep yet is still called sh
        if proc.name() == "sleep":
            break
        time.sleep(0.02)
    assert proc.name() == "sleep" and left["hook"] == "post_merge"  # not the wrapper's pid
    r = run_cli(tmp_path / "h", "status")
    assert f"left running by hooks.post_merge: pid {left['pid']} (sleep 300)" in r.stdout
    assert runner.stop_tracked() == [left["pid"]]
    assert not psutil.pid_exists(left["pid"]) or proc.status() == psutil.STATUS_ZOMBIE
    assert tracked(home) == []
