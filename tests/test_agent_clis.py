"""The codex and claude adapters in the chain, driving fake CLIs that accept exactly the real
programs' argument grammar (tests/fakes/codex.py, claude.py; see tests/fakes/README.md)."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
from conftest import FAKES, init_home, make_target, run_cli, supervisor_cmd
from test_conversation import configure


@pytest.fixture
def clis(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The fake codex and claude on PATH; returns the file they log their argv to."""
    bin_dir = tmp_path / "agent-bin"
    bin_dir.mkdir()
    for name in ("codex", "claude"):
        (bin_dir / name).symlink_to(FAKES / f"{name}.py")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    log = tmp_path / "agent-calls.jsonl"
    monkeypatch.setenv("FAKE_AGENT_LOG", str(log))
    return log


def calls(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def items(home: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in (home / "state" / "items").glob("*.json")]


def test_codex_worker_end_to_end_with_its_exact_command_line(tmp_path: Path, clis: Path) -> None:
    target = make_target(tmp_path / "t", ["Create done/a.txt"])
    home = init_home(tmp_path / "h", target, worker="codex")
    r = run_cli(home, "start", "--until-idle")
    assert r.exit_code == 0, r.output
    [item] = items(home)
    assert item["state"] == "merged", item["history"]
    argvs = [c["argv"] for c in calls(clis)]
    assert argvs[0] == ["login", "status"]
    wt = str(home / "worktrees" / f"issue-{item['issue']}")
    last = str(
        home / "state" / "runs" / f"issue-{item['issue']}" / "attempt-1" / "worker-last-message.txt"
    )
    assert argvs[1] == [
        "exec",
        "--json",
        "--sandbox",
        "workspace-write",
        "--cd",
        wt,
        "--output-last-message",
        last,
        "-",
    ]
    agent = item["attempts"][0]["agent"]
    assert agent["name"] == "codex" and agent["session_id"]
    assert agent["tokens"]["input"] > 0
    result = json.loads((home / "state" / "results" / f"issue-{item['issue']}.json").read_text())
    assert result["agent"]["session_id"] == agent["session_id"]
    shown = run_cli(home, "show", item["id"]).stdout
    assert f"agents in all: 1 run(s), tokens in {agent['tokens']['input']}" in shown


def test_a_retry_resumes_the_codex_session(tmp_path: Path, clis: Path) -> None:
    counter = tmp_path / "gate-runs"
    gate = f'n=$(cat {counter} 2>/dev/null || echo 0); echo $((n+1)) > {counter}; [ "$n" -ge 1 ]'
    target = make_target(tmp_path / "t", ["Create done/b.txt"])
    home = init_home(tmp_path / "h", target, worker="codex", gate=gate)
    configure(home, main="off")  # the counting gate must count the candidate's runs only
    assert run_cli(home, "start", "--until-idle").exit_code == 0
    [item] = items(home)
    assert item["state"] == "merged" and len(item["attempts"]) == 2
    execs = [c["argv"] for c in calls(clis) if c["argv"][:1] == ["exec"]]
    thread = item["attempts"][0]["agent"]["session_id"]
    assert execs[1][-3:] == ["resume", thread, "-"]
    assert item["attempts"][1]["agent"]["session_id"] == thread


def test_codex_not_logged_in_halts_without_spending_an_attempt(
    tmp_path: Path, clis: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_CODEX_LOGGED_IN", "0")
    target = make_target(tmp_path / "t", ["Create done/c.txt"])
    home = init_home(tmp_path / "h", target, worker="codex")
    r = run_cli(home, "start", "--until-idle")
    assert r.exit_code == 1 and "codex is not logged in" in r.stdout
    assert not [c for c in calls(clis) if c["argv"][:1] == ["exec"]]  # never started
    [item] = items(home)
    assert item["state"] == "fixing" and item["attempts"][0]["status"] == "running"
    monkeypatch.setenv("FAKE_CODEX_LOGGED_IN", "1")
    assert run_cli(home, "start", "--until-idle").exit_code == 0
    assert items(home)[0]["state"] == "merged"


def test_claude_worker_records_cost_and_not_logged_in_halts(
    tmp_path: Path, clis: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = make_target(tmp_path / "t", ["Create done/d.txt", "Create done/e.txt"])
    home = init_home(tmp_path / "h", target, worker="claude")
    assert run_cli(home, "start", "--max-items", "1").exit_code == 0
    done = [i for i in items(home) if i["state"] == "merged"]
    assert len(done) == 1
    agent = done[0]["attempts"][0]["agent"]
    assert agent["name"] == "claude" and agent["session_id"] and agent["cost_usd"] is not None
    assert f"${agent['cost_usd']:.4f}" in run_cli(home, "show", done[0]["id"]).stdout
    [argv] = [c["argv"] for c in calls(clis)]
    assert argv[:7] == [
        "-p",
        "--output-format",
        "json",
        "--permission-mode",
        "acceptEdits",
        "--allowedTools=Read,Edit,Write,Glob,Grep,Bash",
        "--max-turns",
    ]
    monkeypatch.setenv("FAKE_CLAUDE_LOGGED_IN", "0")
    r = run_cli(home, "start", "--until-idle")
    assert r.exit_code == 1 and "claude is not logged in" in r.stdout
    waiting = [i for i in items(home) if i["state"] != "merged"]
    assert all(a["status"] == "running" for i in waiting for a in i["attempts"])


def test_claude_reviewer_verdicts(tmp_path: Path, clis: Path) -> None:
    from supervisor.agents import RunControl
    from supervisor.agents.claude import ClaudeAgent
    from supervisor.review import parse_verdict

    agent = ClaudeAgent(RunControl())
    run = agent.run("reviewer", "Approve this change", tmp_path, 60, tmp_path / "r.jsonl")
    assert run.failure is None and parse_verdict(run.final_message).approved
    assert "--allowedTools=Read,Glob,Grep" in calls(clis)[-1]["argv"]  # a reviewer only reads
    run = agent.run("reviewer", "RequestChanges please", tmp_path, 60, tmp_path / "r2.jsonl")
    assert not parse_verdict(run.final_message).approved
    run = agent.run("reviewer", "Fail now", tmp_path, 60, tmp_path / "r3.jsonl")
    assert run.failure == "crashed" and run.detail


def test_garbage_and_a_hang_are_failures_with_reasons(
    tmp_path: Path, clis: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import psutil

    from supervisor.agents import RunControl
    from supervisor.agents.codex import CodexAgent

    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    agent = CodexAgent(RunControl(grace_s=1))
    run = agent.run("worker", "## The task\nGarbage", tmp_path, 60, tmp_path / "g.jsonl")
    assert run.failure in ("bad_output", "crashed"), (run.failure, run.detail)
    t0 = time.monotonic()
    run = agent.run("worker", "## The task\nHang", tmp_path, 2, tmp_path / "h.jsonl")
    assert run.failure == "timeout" and time.monotonic() - t0 < 15
    left = [
        p
        for p in psutil.process_iter(["cwd", "status"])
        if p.info["status"] != psutil.STATUS_ZOMBIE and p.info["cwd"] == str(tmp_path)
    ]
    assert left == []


def test_a_usage_limit_waits_and_spends_no_attempt(tmp_path: Path, clis: Path) -> None:
    target = make_target(tmp_path / "t", ["UsageLimit then Create done/f.txt"])
    home = init_home(tmp_path / "h", target, worker="codex")
    env = {**os.environ, "FAKE_USAGE_RESET_SECONDS": "7200"}
    proc = subprocess.Popen(
        supervisor_cmd(home, "start", "--until-idle"),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            doc = (
                json.loads((home / "state" / "supervisor.json").read_text() or "{}")
                if (home / "state" / "supervisor.json").exists()
                else {}
            )
            if doc.get("phase") == "waiting":
                break
            time.sleep(0.1)
        (home / "state" / "STOP").touch()
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    out = proc.stdout.read().decode() if proc.stdout else ""
    assert "hit its usage limit" in out and "no attempt is spent" in out, out
    [item] = items(home)
    assert item["state"] == "fixing" and item["attempts"][0]["status"] == "running"


def _real_bin() -> Path | None:
    for where in (os.environ.get("REAL_CLI_BIN"), "node_modules/.bin", "/tmp/node_modules/.bin"):
        if where and (Path(where) / "codex").exists() and (Path(where) / "claude").exists():
            return Path(where).resolve()
    return None


@pytest.fixture
def real_bin(monkeypatch: pytest.MonkeyPatch) -> Path:
    found = _real_bin()
    if found is None:
        pytest.skip("the pinned real codex and claude are not installed (see .ci/run)")
    monkeypatch.setenv("PATH", f"{found}{os.pathsep}{os.environ['PATH']}")
    return found


@pytest.mark.real_cli
def test_real_claude_not_logged_in_is_classified(tmp_path: Path, real_bin: Path) -> None:
    from supervisor.agents import RunControl
    from supervisor.agents.claude import ClaudeAgent

    run = ClaudeAgent(RunControl()).run("worker", "hello", tmp_path, 120, tmp_path / "c.jsonl")
    assert run.failure == "not_logged_in", (run.failure, run.detail)


@pytest.mark.real_cli
def test_real_codex_without_credentials_is_killed_at_the_timeout(
    tmp_path: Path, real_bin: Path
) -> None:
    import psutil

    from supervisor.agents import RunControl
    from supervisor.agents.codex import CodexAgent

    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    agent = CodexAgent(RunControl(grace_s=2))
    ok, text = agent.logged_in()
    assert not ok and "Not logged in" in text
    t0 = time.monotonic()
    run = agent.run("worker", "hello", tmp_path, 8, tmp_path / "x.jsonl")
    assert run.failure in ("timeout", "not_logged_in"), (run.failure, run.detail)
    assert time.monotonic() - t0 < 30
    time.sleep(0.5)
    left = [
        p
        for p in psutil.process_iter(["cmdline", "status"])
        if p.info["status"] != psutil.STATUS_ZOMBIE
        and str(tmp_path) in " ".join(p.info["cmdline"] or [])
    ]
    assert left == []
