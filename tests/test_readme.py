"""The README is part of the product: its reference matches the CLI, its commands are real."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

from supervisor.cli import cli
from supervisor.config import NOT_YET_USED

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _reference_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "readme_reference", ROOT / "scripts" / "readme_reference.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_command_has_a_reference_section_and_help() -> None:
    assert cli.commands
    for name, command in cli.commands.items():
        assert f"### supervisor {name}\n" in README, name
        assert (command.help or "").strip(), name


def test_reference_matches_the_cli_help() -> None:
    ref = _reference_module()
    assert ref.current() == ref.reference(), (
        "the README's command reference is out of date: run "
        "`python scripts/readme_reference.py --write`"
    )


def test_the_two_setup_commands_are_there_and_ci_runs_the_test_one() -> None:
    blocks = re.findall(r"```sh\n(.*?)\n```", README, re.S)
    main_job = (
        "python3 -m venv .venv && . .venv/bin/activate && pip install . && "
        "bash scripts/quickstart.sh"
    )
    tests = "python3 -m venv .venv && . .venv/bin/activate && pip install -e '.[test]' && pytest"
    assert main_job in blocks and tests in blocks
    ci = (ROOT / ".ci" / "run").read_text()
    assert "pip install --quiet -e '.[test]'" in ci and re.search(r"^pytest", ci, re.M)
    assert (ROOT / "scripts" / "quickstart.sh").is_file()


def test_the_keys_not_yet_acted_on_are_documented() -> None:
    section = README.split("### What this version does not do yet", 1)[1].split("###", 1)[0]
    for key in NOT_YET_USED:
        assert f"`{key}`" in section, key


def test_exit_codes_match_the_code() -> None:
    from supervisor import errors

    for code in (
        errors.EXIT_OK,
        errors.EXIT_USER,
        errors.EXIT_USAGE,
        errors.EXIT_CRASH,
        errors.EXIT_INTERRUPTED,
    ):
        assert f"| {code} |" in README


def _normalise(text: str, root: str) -> list[str]:
    text = text.replace(root, "/home/you/supervisor")
    text = re.sub(r"\b[0-9a-f]{12}\b", "HASH", text)
    text = re.sub(r"^[0-9a-f]{7} ", "HASH ", text, flags=re.M)
    text = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "TIME", text)
    text = re.sub(r"[0-9.]+ GiB free", "N GiB free", text)
    return text.strip().splitlines()


def test_the_quickstart_prints_what_the_readme_shows(tmp_path: Path) -> None:
    import os
    import shutil
    import subprocess
    import sys

    bin_dir = Path(sys.executable).parent
    if not (bin_dir / "supervisor").exists():
        import pytest

        pytest.skip("the supervisor command is not installed beside this Python")
    home = tmp_path / "supervisor"
    (home / "scripts").mkdir(parents=True)
    for name in ("quickstart.sh", "example_worker.py"):
        shutil.copy(ROOT / "scripts" / name, home / "scripts" / name)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    run = subprocess.run(
        ["bash", str(home / "scripts" / "quickstart.sh")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout
    shown = re.search(r"```text\n(== creating the sample.*?)```", README, re.S)
    assert shown
    assert _normalise(run.stdout, str(home)) == _normalise(shown.group(1), "/home/you/supervisor")
    assert (
        "- the supervisor ran the quickstart" in (home / "sample-target" / "CHANGES.md").read_text()
    )
    again = subprocess.run(
        ["bash", str(home / "scripts" / "quickstart.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert again.returncode == 0 and "items: 2 (merged 2)" in again.stdout
