"""The fake codex and claude accept our command lines, reject bad ones and act on directives.

The `real_cli` tests check the same command lines against the pinned real programs when installed
(REAL_CLI_BIN, ./node_modules/.bin or /tmp/node_modules/.bin holding `codex` and `claude`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

FAKES = Path(__file__).parent / "fakes"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    bin_dir = tmp_path / "fakebin"
    bin_dir.mkdir()
    (bin_dir / "codex").symlink_to(FAKES / "codex.py")
    (bin_dir / "claude").symlink_to(FAKES / "claude.py")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    log = tmp_path / "agent.log"
    monkeypatch.setenv("FAKE_AGENT_LOG", str(log))
    wt = tmp_path / "wt"
    wt.mkdir()
    subprocess.run(["git", "init", "-q", str(wt)], check=True)
    return {"wt": wt, "log": log, "tmp": tmp_path}


def run(args: list[str], prompt: str = "", cwd: Path | None = None, timeout: float = 20):
    return subprocess.run(
        args, input=prompt, capture_output=True, text=True, cwd=cwd, timeout=timeout
    )


def codex_cmd(wt: Path, last: Path, resume: str | None = None) -> list[str]:
    cmd = ["codex", "exec", "--json", "--sandbox", "workspace-write", "--cd", str(wt)]
    cmd += ["--output-last-message", str(last)]
    return cmd + (["resume", resume, "-"] if resume else ["-"])


CLAUDE = [
    "claude", "-p", "--output-format", "json", "--permission-mode", "acceptEdits",
    "--allowedTools=Edit,Write,Bash", "--max-turns", "30",
]  # fmt: skip


def events(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines()]


def test_codex_create_emits_events_and_last_message(env):
    last = env["tmp"] / "last.txt"
    r = run(codex_cmd(env["wt"], last), "## The task\nCreate done/a.txt please")
    assert r.returncode == 0, r.stderr
    ev = events(r.stdout)
    assert ev[0]["type"] == "thread.started" and ev[0]["thread_id"]
    assert ev[1] == {"type": "turn.started"}
    assert ev[-1]["type"] == "turn.completed"
    assert set(ev[-1]["usage"]) == {"input_tokens", "cached_input_tokens", "output_tokens"}
    assert any(e["type"] == "item.completed" and e["item"]["type"] == "agent_message" for e in ev)
    assert (env["wt"] / "done/a.txt").exists()
    assert last.read_text() == "Created done/a.txt."
    logged = json.loads(env["log"].read_text().splitlines()[0])
    assert logged["argv"] == codex_cmd(env["wt"], last)[1:]
    assert logged["stdin_len"] == len("## The task\nCreate done/a.txt please")


def test_codex_resume_keeps_thread(env):
    last = env["tmp"] / "last.txt"
    r = run(codex_cmd(env["wt"], last, resume="01a1fcfb-19c4-7751-9e4d-2939fa141b91"), "Nothing")
    assert r.returncode == 0, r.stderr
    assert events(r.stdout)[0]["thread_id"] == "01a1fcfb-19c4-7751-9e4d-2939fa141b91"


@pytest.mark.parametrize(
    "args",
    [
        ["exec", "--full-auto", "--json", "-"],
        ["exec", "-a", "never", "--json", "-"],
        ["exec", "--bogus", "-"],
        ["exec", "--json", "resume", "abc", "--cd", "/tmp", "-"],
        ["exec", "--json", "resume", "abc", "--sandbox", "read-only", "-"],
        ["exec", "--sandbox", "bad", "-"],
        ["exec", "--json", "--json", "-"],
        ["exec", "--json", "-", "extra"],
        ["exec", "--json", "--cd"],
        ["login", "status", "--bogus"],
    ],
)
def test_codex_rejects_bad_command_lines(env, args):
    r = run(["codex", *args], "Nothing", cwd=env["wt"])
    assert r.returncode == 2
    assert r.stderr.startswith("error: ")
    assert r.stdout == ""


def test_codex_rejects_full_auto_like_the_real_one(env):
    r = run(["codex", "exec", "--full-auto", "-"], "x", cwd=env["wt"])
    assert "error: unexpected argument '--full-auto' found" in r.stderr
    assert "Usage: codex exec [OPTIONS] [PROMPT]" in r.stderr


def test_codex_outside_git_repo_needs_skip_check(env):
    plain = env["tmp"] / "plain"
    plain.mkdir()
    r = run(["codex", "exec", "--json", "--cd", str(plain), "-"], "Nothing")
    assert r.returncode == 1 and "--skip-git-repo-check" in r.stderr
    r = run(["codex", "exec", "--json", "--skip-git-repo-check", "-C", str(plain), "-"], "Nothing")
    assert r.returncode == 0


def test_codex_login_status(env, monkeypatch):
    r = run(["codex", "login", "status"])
    assert r.returncode == 0 and r.stderr.startswith("Logged in using")
    monkeypatch.setenv("FAKE_CODEX_LOGGED_IN", "0")
    r = run(["codex", "login", "status"])
    assert r.returncode == 1 and r.stderr == "Not logged in\n"


@pytest.mark.parametrize("verb", ["Fail", "UsageLimit"])
def test_codex_failures(env, verb):
    r = run(codex_cmd(env["wt"], env["tmp"] / "l"), f"## The task\n{verb}")
    assert r.returncode == 1
    ev = events(r.stdout)
    assert ev[-2]["type"] == "error"
    assert ev[-1]["type"] == "turn.failed" and ev[-1]["error"]["message"]
    if verb == "UsageLimit":
        assert ev[-1]["error"]["message"].startswith("You've hit your usage limit. Try again at ")


def test_codex_verdicts_and_garbage(env, monkeypatch):
    last = env["tmp"] / "l"
    r = run(codex_cmd(env["wt"], last), "RequestChanges")
    assert r.returncode == 0 and '"verdict": "request_changes"' in last.read_text()
    monkeypatch.setenv("FAKE_GARBAGE_BYTES", "100000")
    r = run(codex_cmd(env["wt"], last), "Garbage")
    assert len(r.stdout) > 100000
    with pytest.raises(json.JSONDecodeError):
        events(r.stdout)


@pytest.mark.parametrize("prog", ["codex", "claude"])
def test_hang_spawns_grandchild(env, prog):
    cmd = codex_cmd(env["wt"], env["tmp"] / "l") if prog == "codex" else CLAUDE
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=env["wt"],
                         start_new_session=True)  # fmt: skip
    p.stdin.write(b"Hang")
    p.stdin.close()
    with pytest.raises(subprocess.TimeoutExpired):
        p.wait(timeout=1.5)
    os.killpg(p.pid, 9)
    p.wait()
    p.stdout.close()


def test_claude_create_json(env):
    r = run(CLAUDE, "## The task\nCreate done/b.txt", cwd=env["wt"])
    assert r.returncode == 0, r.stderr
    obj = json.loads(r.stdout)
    assert obj["type"] == "result" and obj["subtype"] == "success" and obj["is_error"] is False
    for key in ("result", "session_id", "total_cost_usd", "usage", "num_turns", "duration_ms"):
        assert key in obj
    assert {"input_tokens", "output_tokens", "cache_read_input_tokens"} <= set(obj["usage"])
    assert (env["wt"] / "done/b.txt").exists()
    logged = json.loads(env["log"].read_text())
    assert logged["argv"] == CLAUDE[1:] and logged["cwd"] == str(env["wt"])


def test_claude_resume_keeps_session(env, monkeypatch):
    monkeypatch.setenv("FAKE_AGENT_STATE", str(env["tmp"]))
    first = json.loads(run(CLAUDE, "Nothing", cwd=env["wt"]).stdout)["session_id"]
    r = run([*CLAUDE, "--resume", first], "Nothing", cwd=env["wt"])
    assert json.loads(r.stdout)["session_id"] == first
    r = run([*CLAUDE, "--resume", first], "Nothing", cwd=env["tmp"])  # another cwd
    assert r.returncode == 1 and "No conversation found with session ID" in r.stderr


def test_claude_not_logged_in_matches_real_shape(env, monkeypatch):
    monkeypatch.setenv("FAKE_CLAUDE_LOGGED_IN", "0")
    r = run(CLAUDE, "hi", cwd=env["wt"])
    assert r.returncode == 1 and r.stderr == ""
    obj = json.loads(r.stdout)
    assert obj["is_error"] is True and obj["subtype"] == "success"
    assert obj["result"] == "Not logged in · Please run /login"


@pytest.mark.parametrize(
    "verb,subtype", [("Fail", "error_during_execution"), ("MaxTurns", "error_max_turns")]
)
def test_claude_errors(env, verb, subtype):
    r = run(CLAUDE, verb, cwd=env["wt"])
    obj = json.loads(r.stdout)
    assert r.returncode == 1 and obj["is_error"] is True and obj["subtype"] == subtype


def test_claude_usage_limit_and_verdict(env):
    obj = json.loads(run(CLAUDE, "UsageLimit", cwd=env["wt"]).stdout)
    assert obj["is_error"] and obj["result"].startswith("You've hit your session limit · resets ")
    obj = json.loads(run(CLAUDE, "Approve", cwd=env["wt"]).stdout)
    assert '"verdict": "approve"' in obj["result"]


@pytest.mark.parametrize(
    "args,message",
    [
        (["--bogus"], "error: unknown option '--bogus'"),
        (["--full-auto"], "error: unknown option '--full-auto'"),
        (["--output-format", "yaml"], "argument 'yaml' is invalid"),
        (["--max-turns"], "error: option '--max-turns <turns>' argument missing"),
    ],
)
def test_claude_rejects_bad_options_with_exit_1_like_the_real_one(env, args, message):
    r = run(["claude", "-p", *args], "Nothing", cwd=env["wt"])
    assert r.returncode == 1 and message in r.stderr and r.stdout == ""


def test_claude_variadic_flag_swallows_positional_prompt(env):
    cmd = ["claude", "-p", "--allowedTools", "Edit", "Write", "Create x.txt"]
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, cwd=env["wt"])
    assert r.returncode == 1 and "Input must be provided" in r.stderr
    assert not (env["wt"] / "x.txt").exists()


# ---- the real programs --------------------------------------------------------------------------


def real_bin() -> Path | None:
    candidates = [os.environ.get("REAL_CLI_BIN"), "node_modules/.bin", "/tmp/node_modules/.bin"]
    for c in candidates:
        if c and (Path(c) / "codex").exists() and (Path(c) / "claude").exists():
            return Path(c).resolve()
    return None


needs_real = pytest.mark.skipif(
    real_bin() is None or shutil.which("node") is None, reason="real CLIs not installed"
)


@pytest.mark.real_cli
@needs_real
def test_real_codex_accepts_our_command_lines(env):
    from supervisor.agents import RunControl
    from supervisor.agents.codex import CodexAgent

    codex = str(real_bin() / "codex")
    last = env["tmp"] / "last.txt"
    adapter = CodexAgent(RunControl(), program=codex)  # the exact lines the adapter builds
    for role in ("worker", "reviewer", "analyst"):
        for resume in (None, "abc"):
            r = _timed(adapter.argv(env["wt"], last, resume, role))
            assert (
                r[0] != 2 and "unexpected argument" not in r[1] and "invalid value" not in r[1]
            ), r
    bad = _timed([codex, "exec", "--full-auto", "-"])
    assert bad[0] == 2 and "unexpected argument '--full-auto'" in bad[1]


def _timed(cmd: list[str], seconds: float = 5) -> tuple[int, str]:
    """Run for at most `seconds` (codex retries forever without network), kill the group."""
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True, start_new_session=True)  # fmt: skip
    try:
        _, err = p.communicate("hi", timeout=seconds)
        return p.returncode, err
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, 9)
        _, err = p.communicate()
        return -9, err


@pytest.mark.real_cli
@needs_real
def test_real_claude_accepts_our_command_lines_and_not_logged_in_parses(env, monkeypatch):
    claude = str(real_bin() / "claude")
    r = run([claude, *CLAUDE[1:]], "hi", cwd=env["wt"], timeout=60)
    assert "unknown option" not in r.stderr
    real = json.loads(r.stdout)
    monkeypatch.setenv("FAKE_CLAUDE_LOGGED_IN", "0")
    fake = json.loads(run(CLAUDE, "hi", cwd=env["wt"]).stdout)
    assert r.returncode == 1
    assert real["is_error"] is True and real["result"] == fake["result"]
    assert set(fake) == set(real)
    assert set(fake["usage"]) == set(real["usage"])
    r = run([claude, "-p", "--bogus"], "hi", cwd=env["wt"], timeout=60)
    assert r.returncode == 1 and "error: unknown option '--bogus'" in r.stderr
