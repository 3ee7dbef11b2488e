"""`supervisor demo`: a complete first night on this machine, with no GitHub and no agent account.

It makes a small sample project with a genuinely flaky test (its cache refresh takes a random
time, and the test assumes an upper bound) and a task list, produces real CI logs by running the
project's tests, and runs the chain on the local forge: scan, triage, stress runs with real
failure rates, then the analysis and the fixes with whatever agent CLI is installed and logged in.
Where there is none, it stops before those steps and says what to install; the report shows what
was done. Nothing in it does an agent's work.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from supervisor import git
from supervisor.errors import UserError

CACHE = '''"""A tiny cache, the sample project's code."""

import random
import time


class Cache:
    def __init__(self):
        self.items = {}

    def refresh(self):
        """Reload the items; on a busy machine this takes a while."""
        time.sleep(random.uniform(0.0, 0.065))
        self.items = {"a": 1, "b": 2}

    def get(self, key, default=None):
        return self.items.get(key, default)
'''

TESTS = """import time

from cache import Cache


def test_get_after_refresh():
    cache = Cache()
    cache.refresh()
    assert cache.get("a") == 1


def test_refresh_is_fast():
    cache = Cache()
    start = time.monotonic()
    cache.refresh()
    # A timing assumption that a loaded CI machine breaks now and then: a flaky test.
    assert time.monotonic() - start < 0.05, "refresh took too long"
"""

TASKS = """# Tasks

- [ ] Add a `size()` method to `Cache` that returns how many items it holds, with a test in
  `test_cache.py`.
"""

CI_RUNS = 24  # how many times "CI" runs the tests to produce the logs
# The gate leaves the flaky test out: the stress runs judge it, and a gate that flakes would
# fail the task's attempts (and make the base branch look red) a third of the time.
GATE = (
    f"{shlex.quote(sys.executable)} -m pytest -q -p no:cacheprovider test_cache.py "
    "--deselect test_cache.py::test_refresh_is_fast"
)


def find_agent() -> tuple[str | None, str]:
    """The agent CLI to use ("codex" or "claude"), or None with what to do about it."""
    from supervisor.agents import RunControl
    from supervisor.agents.codex import CodexAgent

    if shutil.which("codex"):
        ok, _ = CodexAgent(RunControl()).logged_in()
        if ok:
            return "codex", "codex (logged in)"
    if shutil.which("claude") and (
        os.environ.get("ANTHROPIC_API_KEY")
        or (Path.home() / ".claude" / ".credentials.json").exists()
    ):
        return "claude", "claude (credentials found)"
    return None, (
        "no agent CLI is installed and logged in. Install one and log in, then run the "
        "command below:\n"
        "  codex:  npm install -g @openai/codex && codex login\n"
        "  claude: npm install -g @anthropic-ai/claude-code && claude   (log in once)"
    )


def make_target(path: Path) -> None:
    path.mkdir(parents=True)
    (path / "cache.py").write_text(CACHE)
    (path / "test_cache.py").write_text(TESTS)
    (path / "tasks.md").write_text(TASKS)
    (path / ".gitignore").write_text("__pycache__/\n.pytest_cache/\n")
    git.git(path, "init", "-q", "-b", "main")
    git.git(path, "add", "-A")
    git.git(
        path,
        "-c",
        "user.name=Demo",
        "-c",
        "user.email=demo@example.invalid",
        "commit",
        "-qm",
        "A small cache, with a flaky test",
    )


def run_ci(target: Path, logs: Path, echo: Callable[[str], None]) -> int:
    """Run the project's tests as CI would, CI_RUNS times; keep the logs of the failed runs."""
    logs.mkdir(parents=True)
    failed = 0
    for run in range(1, CI_RUNS + 1):
        r = subprocess.run(
            [sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider", "test_cache.py"],
            cwd=target,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if r.returncode:
            failed += 1
            (logs / f"run-{run:02}.log").write_text(r.stdout + r.stderr)
    echo(f"CI: {CI_RUNS} runs of the sample's tests, {failed} failed (their logs: {logs})")
    return failed


def prepare(folder: Path, echo: Callable[[str], None]) -> tuple[Path, str | None]:
    """The sample project, its CI logs and a supervisor home; (home, agent or None)."""
    import importlib.util

    if importlib.util.find_spec("pytest") is None:
        raise UserError(
            "the demo's sample project is tested with pytest, which is not installed here: "
            "pip install 'supervisor[demo]' (or pip install pytest), then run it again"
        )
    if folder.exists() and any(folder.iterdir()):
        raise UserError(f"{folder} is not empty: give --dir a new folder, or remove it")
    target, home, logs = folder / "sample-project", folder / "home", folder / "ci-logs"
    make_target(target)
    echo(f"made the sample project {target} (a cache, a flaky test, a task list)")
    while not run_ci(target, logs, echo):  # a flaky test may pass 24 times: CI runs again
        shutil.rmtree(logs)
    agent, words = find_agent()
    echo(f"agent: {words}")
    from supervisor.config_render import render_default

    overrides: dict[str, object] = {
        "target": str(target),
        "base_branch": "main",
        "sources.ci.logs_dir": str(logs),
        "gate.fast": [GATE],
        "approval.mode": "auto",
        "reproduce.runs": 40,
        "reproduce.budget": 120.0,
    }
    from supervisor.config import AgentSpec

    # Without an agent, the home is set up for codex: installing it is all that is left to do.
    overrides["agents.worker"] = AgentSpec(agent or "codex")
    overrides["agents.analyst"] = AgentSpec(agent or "codex")
    home.mkdir(parents=True)
    (home / "supervisor.yaml").write_text(render_default(overrides))
    return home, agent


def run(folder: Path, echo: Callable[[str], None]) -> int:
    """The whole demo; the exit code of its night."""
    from supervisor import report, runner
    from supervisor.app import load, setup_logging, teardown_logging
    from supervisor.home import Home
    from supervisor.report import html
    from supervisor.report.collect import Period
    from supervisor.store import write_text_atomic

    folder = folder.resolve()
    root, agent = prepare(folder, echo)
    home = Home.resolve(root)
    home.ensure_dirs()
    cfg = load(home)
    setup_logging(home, console=True)
    try:
        if agent is None:  # discovery, triage and the stress runs need no agent
            code = runner.scan_only(home, cfg, echo)
        else:
            code = runner.start(home, cfg, runner.StartOptions(False, True, None), echo)
    finally:
        teardown_logging()
    _, items = report.load(home)
    out = home.logs / "report.html"
    figures = report.collect(
        items, Period("", report.now_utc(), "the demo"), *report.links(home, cfg, out)
    )
    write_text_atomic(out, html.render(figures))
    echo("")
    for item in items:
        echo(f"{item.id}: {item.state}: {item.title}")
        before = item.reproduction.get("before") or {}
        if before.get("words"):
            echo(f"    stress runs: {before['words']}")
    echo(f"the report: {out}")
    if agent is None:
        _, words = find_agent()
        echo(f"stopped before the analysis and the fixes: {words}")
        echo(f"  supervisor --home {home.root} start --until-idle")
        echo(
            f"(the home is set up for codex; for claude, set agents.worker and agents.analyst "
            f"to claude in {home.config_file})"
        )
    return code
