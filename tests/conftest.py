"""Shared fixtures: an isolated environment, real git repositories in temporary folders."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from supervisor.cli import cli, main

FAKES = Path(__file__).parent / "fakes"
WORKER = FAKES / "worker.py"
SHARED = Path(__file__).resolve().parents[2] / "shared"


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test can touch the real home, git config, GitHub or a real agent CLI."""
    root = tmp_path_factory.mktemp("env")
    bin_dir = root / "bin"
    bin_dir.mkdir()
    for name in ("codex", "claude", "gh"):
        (bin_dir / name).symlink_to(FAKES / "forbidden.sh")
    gitconfig = root / "gitconfig"
    gitconfig.write_text(
        "[user]\n\tname = Test User\n\temail = test@example.com\n"
        '[init]\n\tdefaultBranch = main\n[protocol "file"]\n\tallow = always\n'
    )
    monkeypatch.setenv("HOME", str(root))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(gitconfig))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    for name in list(os.environ):
        if name.startswith("SUPERVISOR_") or name in (
            "GITHUB_TOKEN",
            "GH_TOKEN",
            "OPENAI_API_KEY",
            "ANTHROPIC_API_KEY",
        ):
            monkeypatch.delenv(name, raising=False)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


def make_target(path: Path, tasks: list[str], files: dict[str, str] | None = None) -> Path:
    """A git repository with tasks.md (one unchecked line per task) and check.sh (the gate)."""
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    (path / "tasks.md").write_text("# Tasks\n\n" + "".join(f"- [ ] {t}\n" for t in tasks))
    # The gate: every file under done/ must be non-empty.
    (path / "check.sh").write_text('#!/bin/sh\n[ -z "$(find done -type f -empty 2>/dev/null)" ]\n')
    for name, text in (files or {}).items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text)
    git(path, "add", "-A")
    git(path, "commit", "-qm", "initial")
    return path


@pytest.fixture
def target(tmp_path: Path) -> Path:
    return make_target(tmp_path / "target", ["Create done/one.txt", "Create done/two.txt"])


def init_home(
    home: Path,
    target: Path,
    *extra: str,
    worker: str | None = None,
    gate: str | None = "sh check.sh",
) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    args = [
        "--home",
        str(home),
        "init",
        "--target",
        str(target),
        "--worker",
        worker or f"{sys.executable} {WORKER}",
        *(["--gate-fast", gate] if gate else []),
        *extra,
    ]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return home


@pytest.fixture
def home(tmp_path: Path, target: Path) -> Path:
    return init_home(tmp_path / "home", target)


@dataclass
class Run:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def run_cli(home: Path, *args: str) -> Run:
    """Run `supervisor --home HOME ARGS` in-process through main(), with its exit-code mapping."""
    runner = CliRunner()
    with runner.isolation() as streams:
        try:
            main(["--home", str(home), *args])
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else 1
        out, err = streams[0].getvalue(), streams[1].getvalue()
    return Run(code, out.decode(errors="replace"), err.decode(errors="replace"))


def supervisor_cmd(home: Path, *args: str) -> list[str]:
    """The argv to run the real command in a subprocess."""
    return [sys.executable, "-m", "supervisor", "--home", str(home), *args]


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    if not SHARED.exists():
        pytest.skip("../shared is not beside this checkout")
    yield SHARED


pytest_plugins = ["fakegithub.fixture"]
