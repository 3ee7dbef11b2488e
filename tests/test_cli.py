"""The command line: help, init, exit codes, crash log, doctor, status, items, logs, cleanup."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import WORKER, Run, git, init_home, make_target, run_cli, supervisor_cmd

import supervisor
import supervisor.status
from supervisor.cli import cli
from supervisor.config import AgentSpec, Config, load_config

COMMANDS = sorted(cli.commands)


def set_yaml(home: Path, old: str, new: str) -> None:
    config = home / "supervisor.yaml"
    text = config.read_text()
    assert text.count(old) == 1, old
    config.write_text(text.replace(old, new))


def line_of(home: Path, text: str) -> int:
    lines = (home / "supervisor.yaml").read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if line.strip() == text)


def items_json(home: Path) -> list[dict]:
    r = run_cli(home, "items", "--json")
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


@pytest.fixture
def ran(home: Path) -> Path:
    """A home after `start --until-idle` on the default target: two items merged."""
    r = run_cli(home, "start", "--until-idle")
    assert r.exit_code == 0, r.output
    return home


# -- version and help ---------------------------------------------------------------------------


def test_version(tmp_path: Path) -> None:
    r = run_cli(tmp_path, "--version")
    assert (r.exit_code, r.stdout, r.stderr) == (
        0,
        f"supervisor, version {supervisor.__version__}\n",
        "",
    )


@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_group_help_lists_every_command(tmp_path: Path, flag: str) -> None:
    r = run_cli(tmp_path, flag)
    assert r.exit_code == 0 and r.stderr == ""
    assert r.stdout.startswith("Usage: supervisor [OPTIONS] COMMAND [ARGS]...")
    assert "An overnight supervisor for coding agents." in r.stdout
    listed = r.stdout.split("Commands:", 1)[1].split()
    for name in COMMANDS:
        assert name in listed


@pytest.mark.parametrize("flag", ["-h", "--help"])
@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_has_help(tmp_path: Path, name: str, flag: str) -> None:
    command = cli.commands[name]
    assert command.help and command.help.strip()
    assert command.get_short_help_str().strip()
    r = run_cli(tmp_path, name, flag)
    assert r.exit_code == 0 and r.stderr == ""
    assert r.stdout.startswith(f"Usage: supervisor {name} ")
    assert command.help.strip().splitlines()[0] in r.stdout
    assert "-h, --help" in r.stdout
    assert not (tmp_path / "supervisor.yaml").exists()  # help runs nothing


# -- init ---------------------------------------------------------------------------------------


def test_init_writes_a_commented_config_that_loads(tmp_path: Path) -> None:
    target = make_target(tmp_path / "repos" / "target", ["Create done/a.txt"])
    git(target, "checkout", "-q", "-b", "trunk")
    home = tmp_path / "home"
    r = run_cli(home, "init", "--target", str(target), "--worker", "my-agent --model 'big one'")
    assert r.exit_code == 0, r.output
    config = home / "supervisor.yaml"
    assert r.stdout == (f"wrote {config}\nnext: `supervisor doctor`, then `supervisor start`\n")
    text = config.read_text()
    assert "\ntarget: ../repos/target\n" in text
    assert "\nbase_branch: trunk\n" in text
    assert "\n  worker: {command: [my-agent, --model, big one]}\n" in text
    cfg = load_config(config)
    assert cfg.target == "../repos/target"
    assert cfg.target_path() == target.resolve()
    assert cfg.base_branch == "trunk"
    assert cfg.forge == "local"
    assert cfg.agents.worker == AgentSpec("command", ("my-agent", "--model", "big one"))
    assert cfg.agents.reviewer == AgentSpec("none")
    lines = text.splitlines()
    assert lines[0].startswith("# ")
    for f in dataclasses.fields(Config):
        if f.metadata.get("internal"):
            continue
        [i] = [i for i, line in enumerate(lines) if line.startswith(f"{f.name}:")]
        assert lines[i - 1].startswith("# ") and len(lines[i - 1]) > 2, f.name
    for name in ("state", "logs", "worktrees", "state/items"):
        assert (home / name).is_dir(), name


def test_init_with_a_named_agent_and_gates(tmp_path: Path, target: Path) -> None:
    home = tmp_path / "home"
    r = run_cli(
        home,
        "init",
        "--target",
        str(target),
        "--worker",
        "claude",
        "--reviewer",
        "codex",
        "--gate-fast",
        "make lint",
        "--gate-fast",
        "make test",
        "--gate-slow",
        "make e2e",
    )
    assert r.exit_code == 0, r.output
    cfg = load_config(home / "supervisor.yaml")
    assert cfg.agents.worker == AgentSpec("claude")
    assert cfg.agents.reviewer == AgentSpec("codex")
    assert cfg.gate.fast == ["make lint", "make test"]
    assert cfg.gate.slow == ["make e2e"]
    assert cfg.base_branch == "main"


def test_init_refuses_to_overwrite_without_force(tmp_path: Path, target: Path) -> None:
    home = init_home(tmp_path / "home", target)
    config = home / "supervisor.yaml"
    before = config.read_text()
    r = run_cli(home, "init", "--target", str(target), "--worker", "other-agent")
    assert r.exit_code == 1
    assert r.stderr == (f"error: {config} exists already; pass --force to overwrite it\n")
    assert config.read_text() == before
    r = run_cli(home, "init", "--target", str(target), "--worker", "other-agent", "--force")
    assert r.exit_code == 0, r.output
    assert load_config(config).agents.worker == AgentSpec("command", ("other-agent",))


def test_init_refuses_a_target_that_is_not_a_git_repository(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    home = tmp_path / "home"
    r = run_cli(home, "init", "--target", str(plain))
    assert r.exit_code == 1
    assert r.stderr == f"error: --target {plain}: {plain.resolve()} is not a git repository\n"
    assert not (home / "supervisor.yaml").exists()
    r = run_cli(home, "init", "--target", str(tmp_path / "missing"))
    assert r.exit_code == 1
    assert f"{(tmp_path / 'missing').resolve()} is not a git repository" in r.stderr


# -- exit codes ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["status", "--bogus"], "Error: No such option '--bogus'."),
        (["--bogus"], "Error: No such option '--bogus'."),
        (["frobnicate"], "Error: No such command 'frobnicate'."),
        (["show"], "Error: Missing argument 'ITEM_ID'."),
        (["items", "--state", "sleeping"], "Error: Invalid value for '--state'"),
        (["logs", "-n", "-1"], "Error: Invalid value for '-n' / '--lines'"),
    ],
)
def test_usage_errors_exit_2(home: Path, args: list[str], message: str) -> None:
    r = run_cli(home, *args)
    assert r.exit_code == 2
    assert r.stdout == ""
    assert r.stderr.startswith("Usage: supervisor")
    assert message in r.stderr


def test_user_error_exits_1_with_error_on_stderr(home: Path) -> None:
    r = run_cli(home, "show", "nope")
    assert (r.exit_code, r.stdout) == (1, "")
    assert r.stderr == "error: no item 'nope': `supervisor items` lists them\n"


def test_config_error_on_start_exits_1_naming_the_key(home: Path) -> None:
    set_yaml(home, "  attempts: 3\n", "  attempts: 0\n")
    line = line_of(home, "attempts: 0")
    r = run_cli(home, "start", "--once")
    assert (r.exit_code, r.stdout) == (1, "")
    assert r.stderr == (
        f"error: {home / 'supervisor.yaml'}: 'limits.attempts' (line {line}) is 0; "
        "expected a whole number of at least 1\n"
    )
    assert not (home / "worktrees" / "mirror.git").exists()  # nothing ran


def test_missing_config_exits_1_and_says_how_to_create_it(tmp_path: Path) -> None:
    r = run_cli(tmp_path / "empty", "start", "--once")
    assert r.exit_code == 1
    assert r.stderr.startswith(f"error: no config at {tmp_path / 'empty' / 'supervisor.yaml'}")
    assert "supervisor init --target PATH" in r.stderr


def _crash_status(monkeypatch: pytest.MonkeyPatch, message: str) -> None:
    def boom(home: object) -> dict:
        raise RuntimeError(message)

    monkeypatch.setattr(supervisor.status, "collect", boom)


SECRET = "hunter2-very-secret-value"


def _check_crash(r: Run, crash_log: Path) -> None:
    assert r.exit_code == 3
    assert r.stderr == (
        "unexpected error: RuntimeError: boom: token *** rejected\n"
        f"the full traceback is in {crash_log}; please report it\n"
    )
    text = crash_log.read_text()
    assert "Traceback (most recent call last):" in text
    assert "in status_cmd" in text and "in boom" in text
    assert "RuntimeError: boom: token *** rejected" in text
    assert SECRET not in text


def test_unexpected_error_exits_3_with_a_redacted_crash_log(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As the installed `supervisor` command sees it: its own argv in sys.argv.
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["supervisor", "--home", str(home), "status"])
    monkeypatch.setenv("X_TOKEN", SECRET)
    _crash_status(monkeypatch, f"boom: token {SECRET} rejected")
    r = run_cli(home, "status")
    crash_log = home / "logs" / "crash.log"
    _check_crash(r, crash_log)
    assert crash_log.read_text().startswith("--- ")
    assert f"supervisor {supervisor.__version__}: supervisor --home {home} status" in (
        crash_log.read_text()
    )
    # A second crash appends.
    run_cli(home, "status")
    assert crash_log.read_text().count("Traceback (most recent call last):") == 2


def test_crash_log_goes_to_the_home_given_to_main(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("X_TOKEN", SECRET)
    _crash_status(monkeypatch, f"boom: token {SECRET} rejected")
    r = run_cli(home, "status")
    _check_crash(r, home / "logs" / "crash.log")
    assert not (cwd / "logs").exists()


# -- doctor -------------------------------------------------------------------------------------


def test_doctor_on_a_good_home(home: Path, target: Path) -> None:
    r = run_cli(home, "doctor")
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[-1] == "all checks passed"
    assert [line.split(":")[0] for line in lines[:-1]] == [
        "ok    git",
        "ok    config",
        "ok    target",
        "ok    worker",
        "ok    disk",
    ]
    assert f"ok    config: {home / 'supervisor.yaml'}" in lines
    assert f"ok    target: {target} (base branch main)" in lines
    assert f"ok    worker: {sys.executable} {WORKER}" in lines
    assert "fix:" not in r.stdout


def test_doctor_reports_a_missing_worker_command(tmp_path: Path, target: Path) -> None:
    home = init_home(tmp_path / "home", target, worker="no-such-agent-xyz --flag")
    r = run_cli(home, "doctor")
    assert r.exit_code == 1
    lines = r.stdout.splitlines()
    i = lines.index(
        "FAIL  worker: agents.worker: the program 'no-such-agent-xyz' is not installed or "
        "not on PATH: install it, or give its full path in supervisor.yaml"
    )
    assert lines[i + 1] == "      fix: install it or fix the path"
    assert lines[-1] == "1 problem(s) found"


def test_doctor_checks_the_codex_login_and_start_never_burns_an_attempt(home: Path) -> None:
    set_yaml(home, f"  worker: {{command: [{sys.executable}, {WORKER}]}}\n", "  worker: codex\n")
    r = run_cli(home, "doctor")
    assert r.exit_code == 1
    lines = r.stdout.splitlines()
    # the codex on PATH in the tests refuses to run (exit 97): login status fails
    i = next(n for n, line in enumerate(lines) if line.startswith("FAIL  worker: codex is not"))
    assert lines[i + 1] == "      fix: run `codex login`"
    r = run_cli(home, "start", "--once")
    assert r.exit_code == 1
    assert "codex is not logged in" in r.stdout and "run `codex login`" in r.stdout
    items = [json.loads(p.read_text()) for p in (home / "state" / "items").glob("*.json")]
    assert all(a["status"] == "running" for i in items for a in i["attempts"])


def test_doctor_reports_stop_with_the_rm_fix(home: Path) -> None:
    stop = home / "state" / "STOP"
    stop.write_text("stop\n")
    r = run_cli(home, "doctor")
    assert r.exit_code == 1
    lines = r.stdout.splitlines()
    i = lines.index(f"FAIL  STOP: {stop} exists: start will refuse")
    assert lines[i + 1] == f"      fix: rm {stop}"
    assert lines[-1] == "1 problem(s) found"


def test_doctor_fails_on_a_target_that_is_not_a_repository(tmp_path: Path, home: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    set_yaml(home, "target: ../target\n", f"target: {plain}\n")
    r = run_cli(home, "doctor")
    assert r.exit_code == 1
    lines = r.stdout.splitlines()
    i = lines.index(f"FAIL  target: {plain} is not a git repository")
    assert lines[i + 1] == "      fix: set 'target' to a local git repository"
    assert lines[-1] == "1 problem(s) found"


def test_doctor_reports_a_broken_config(home: Path) -> None:
    set_yaml(home, "forge: local\n", "forge: gitlab\n")
    r = run_cli(home, "doctor")
    assert r.exit_code == 1
    assert "FAIL  config: " in r.stdout and "'forge'" in r.stdout
    assert "      fix: correct supervisor.yaml as the message says" in r.stdout


# -- status, items, show ------------------------------------------------------------------------


def test_status_before_anything_ran(home: Path) -> None:
    r = run_cli(home, "status")
    assert (r.exit_code, r.stdout, r.stderr) == (0, "not running\nitems: none yet\n", "")
    r = run_cli(home, "status", "--json")
    assert r.exit_code == 0
    assert json.loads(r.stdout) == {
        "home": str(home),
        "running": False,
        "pid": None,
        "phase": None,
        "item": None,
        "started_at": None,
        "heartbeat": None,
        "last_exit": {"at": None, "reason": None},
        "stop_requested": False,
        "counts": {},
        "total": 0,
        "corrupt_files": [],
        "last_scan": None,
        "waiting": None,
        "next_chain_at": None,
        "next_scan_at": None,
        "hook_processes": [],
        "main": None,
        "needs_person": [],
        "agents_since_start": {
            "runs": 0,
            "tokens": {"input": 0, "output": 0, "cached_input": 0},
            "cost_usd": None,
        },
    }
    assert run_cli(home, "items").stdout == "no items\n"
    assert run_cli(home, "items", "--json").stdout == "[]\n"


def test_status_shows_stop_requested(home: Path) -> None:
    (home / "state" / "STOP").write_text("")
    r = run_cli(home, "status")
    assert r.stdout == (
        "not running\nstate/STOP is present: a running supervisor stops, `start` refuses "
        "(rm state/STOP to clear it)\nitems: none yet\n"
    )


def test_status_and_items_after_a_run(ran: Path) -> None:
    r = run_cli(ran, "status")
    assert r.exit_code == 0
    assert re.fullmatch(
        r"not running \(last exit \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ: idle\)\n"
        r"last scan: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ "
        r"\(main at [0-9a-f]{12}, 0 candidates, 0 new\)\n"
        r"items: 2 \(merged 2\)\n"
        r"agents since the start: 2 run\(s\)\n"
        r"base branch: last proven [0-9a-f]{12} \(green\)\n",
        r.stdout,
    ), r.stdout
    s = json.loads(run_cli(ran, "status", "--json").stdout)
    assert (s["running"], s["counts"], s["total"]) == (False, {"merged": 2}, 2)
    assert s["last_exit"]["reason"] == "idle"

    found = items_json(ran)
    assert sorted(i["title"] for i in found) == ["Create done/one.txt", "Create done/two.txt"]
    assert all(i["state"] == "merged" for i in found)
    expected = [
        f"{i['id']:<18} {'merged':<18} {'#' + str(i['issue']):<6} attempts 1  {i['title']}"
        for i in found
    ]
    r = run_cli(ran, "items")
    assert r.exit_code == 0 and r.stdout.splitlines() == expected
    assert run_cli(ran, "items", "--state", "merged").stdout.splitlines() == expected
    assert run_cli(ran, "items", "--state", "failed").stdout == "no items\n"
    assert run_cli(ran, "items", "--state", "failed", "--json").stdout == "[]\n"
    both = run_cli(ran, "items", "--state", "failed", "--state", "merged", "--json")
    assert json.loads(both.stdout) == found


def test_show_prints_the_story_and_json(ran: Path) -> None:
    [item] = [i for i in items_json(ran) if i["title"] == "Create done/one.txt"]
    r = run_cli(ran, "show", item["id"])
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[0] == f"{item['id']}  [{item['kind']}]  merged"
    assert lines[1] == "title: Create done/one.txt"
    forge = ran / "state" / "forge"
    assert lines[2] == f"issue: #{item['issue']}  {forge}/issues/{item['issue']}.json"
    assert lines[3] == f"pull request: #{item['pull']}  {forge}/pulls/{item['pull']}.json"
    assert lines[4] == f"candidate: {item['head_sha'][:12]} on base {item['base_sha'][:12]}"
    assert lines[5] == "found in: tasks.md"
    assert lines[6] == "attempt 1: succeeded"
    # a command agent reports no tokens or cost: none are shown rather than guessed
    assert lines[7] == "  worker: command"
    assert lines[8] == "  fast gate: passed: `sh check.sh` exit 0"
    assert lines[9] == "  slow gate: passed"  # no slow gate configured
    assert lines[10] == "  review: approve: gates only (agents.reviewer: none)"
    assert lines[11] == "agents in all: 1 run(s)"
    start = lines.index("history:")
    transitions = [re.sub(r"^  \S+  ", "", line).split("  ")[0] for line in lines[start + 1 :]]
    assert transitions == [
        "- -> new",
        "new -> triaged",
        "triaged -> approved",
        "approved -> fixing",
        "fixing -> verifying",
        "verifying -> reviewing",
        "reviewing -> publishing",
        "publishing -> pr_open",
        "pr_open -> merged",
    ]
    r = run_cli(ran, "show", item["id"], "--json")
    assert r.exit_code == 0
    assert json.loads(r.stdout) == item


# -- logs ---------------------------------------------------------------------------------------


def test_logs_prints_the_tail_of_the_supervisor_log(ran: Path) -> None:
    log = (ran / "logs" / "supervisor.log").read_text().splitlines()
    assert len(log) > 50
    r = run_cli(ran, "logs")
    assert r.exit_code == 0
    assert r.stdout.splitlines() == log[-50:]
    assert r.stdout.splitlines()[-1].endswith("supervisor.runner: supervisor exited: idle")
    r = run_cli(ran, "logs", "-n", "1")
    assert r.stdout.splitlines() == log[-1:]
    assert run_cli(ran, "logs", "--lines", "3").stdout.splitlines() == log[-3:]


def test_logs_item_prints_its_agent_output(ran: Path) -> None:
    [item] = [i for i in items_json(ran) if i["title"] == "Create done/two.txt"]
    agent_log = ran / "state" / "runs" / f"issue-{item['issue']}" / "attempt-1" / "agent.jsonl"
    r = run_cli(ran, "logs", item["id"])
    assert r.exit_code == 0, r.output
    assert "wrote done/two.txt" in r.stdout
    assert r.stdout.splitlines() == agent_log.read_text().splitlines()[-50:]
    r = run_cli(ran, "logs", item["id"], "-n", "1")
    assert r.stdout.splitlines() == agent_log.read_text().splitlines()[-1:]


def test_logs_n_0_prints_nothing(home: Path) -> None:
    (home / "logs" / "supervisor.log").write_text("first\nsecond\n")
    r = run_cli(home, "logs", "-n", "0")
    assert (r.exit_code, r.stdout, r.stderr) == (0, "", "")


def test_logs_errors(home: Path) -> None:
    r = run_cli(home, "logs")
    assert r.exit_code == 1
    assert r.stderr == f"error: {home / 'logs' / 'supervisor.log'} does not exist yet\n"
    r = run_cli(home, "logs", "nope")
    assert r.exit_code == 1
    assert r.stderr == "error: no item 'nope': `supervisor items` lists them\n"


def _read_until(proc: subprocess.Popen[bytes], text: str, seen: bytearray, timeout: float) -> str:
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    deadline = time.monotonic() + timeout
    while text.encode() not in seen:
        left = deadline - time.monotonic()
        assert left > 0, f"timed out waiting for {text!r}; got {bytes(seen)!r}"
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            chunk = os.read(fd, 4096)
            assert chunk, f"the process ended before printing {text!r}; got {bytes(seen)!r}"
            seen += chunk
    return seen.decode()


def test_logs_follow_prints_lines_appended_later(home: Path) -> None:
    log = home / "logs" / "supervisor.log"
    log.write_text("first line\nsecond line\n")
    proc = subprocess.Popen(
        supervisor_cmd(home, "logs", "-f", "-n", "1"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        bufsize=0,
    )
    seen = bytearray()
    try:
        assert _read_until(proc, "second line\n", seen, timeout=20) == "second line\n"
        with log.open("a") as f:
            f.write("appended later\n")
        assert _read_until(proc, "appended later\n", seen, 10) == "second line\nappended later\n"
        assert proc.poll() is None  # still following
    finally:
        proc.kill()
        proc.wait()


# -- cleanup ------------------------------------------------------------------------------------


def test_cleanup_removes_the_worktree_and_branch_of_a_failed_item(tmp_path: Path) -> None:
    target = make_target(tmp_path / "t", ["Fail always"])
    home = init_home(tmp_path / "h", target)
    assert run_cli(home, "cleanup").stdout == "nothing to clean up\n"  # no mirror yet
    r = run_cli(home, "start", "--until-idle")
    assert r.exit_code == 0, r.output
    [item] = items_json(home)
    assert item["state"] == "failed"
    n = item["issue"]
    wt = home / "worktrees" / f"issue-{n}"
    mirror = home / "worktrees" / "mirror.git"
    branch = f"supervisor/issue-{n}"
    assert wt.is_dir() and git(mirror, "branch", "--list", branch) != ""
    what = f"{item['id']} (failed): worktrees/issue-{n}, branch {branch}"

    r = run_cli(home, "cleanup", "--dry-run")
    assert (r.exit_code, r.stdout, r.stderr) == (0, f"would remove {what}\n", "")
    assert wt.is_dir() and git(mirror, "branch", "--list", branch) != ""

    r = run_cli(home, "cleanup")
    assert (r.exit_code, r.stdout, r.stderr) == (0, f"removed {what}\n", "")
    assert not wt.exists()
    assert git(mirror, "branch", "--list", branch) == ""
    assert str(wt) not in git(mirror, "worktree", "list")
    assert git(mirror, "rev-parse", "main") == git(target, "rev-parse", "main")

    r = run_cli(home, "cleanup")
    assert (r.exit_code, r.stdout) == (0, "nothing to clean up\n")
    assert run_cli(home, "cleanup", "--dry-run").stdout == "nothing to clean up\n"
    # The item itself is kept: cleanup removes only git leftovers.
    assert items_json(home) == [item]
