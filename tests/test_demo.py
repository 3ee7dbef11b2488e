"""`supervisor demo`: a first night with no GitHub and no agent account, and with an agent."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from conftest import FAKES, run_cli


def no_agents_path(tmp_path: Path) -> str:
    """PATH with git and sh but no codex or claude."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("git", "sh", "env"):
        found = shutil.which(tool)
        assert found
        (bin_dir / tool).symlink_to(found)
    return str(bin_dir)


def test_the_demo_without_an_agent_goes_as_far_as_it_can_and_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", no_agents_path(tmp_path))
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    r = run_cli(tmp_path, "demo", "--dir", str(tmp_path / "demo"))
    assert r.exit_code == 0, r.output
    home = tmp_path / "demo" / "home"
    assert "npm install -g @openai/codex && codex login" in r.stdout
    assert f"supervisor --home {home} start --until-idle" in r.stdout
    logs = list((tmp_path / "demo" / "ci-logs").glob("run-*.log"))
    assert logs and "refresh took too long" in logs[0].read_text()  # real test runs
    items = [json.loads(p.read_text()) for p in (home / "state" / "items").glob("*.json")]
    flaky = [i for i in items if i["kind"] == "flaky"]
    assert len(flaky) == 1 and len(items) == 2
    before = flaky[0]["reproduction"]["before"]
    assert before["verdict"] == "reproduced" and 0 < before["failures"] < before["runs"]
    assert not any(i["attempts"] for i in items)  # nobody did an agent's work
    page = (home / "logs" / "report.html").read_text()
    assert "test_refresh_is_fast" in page and before["words"] in page
    r = run_cli(tmp_path, "demo", "--dir", str(tmp_path / "demo"))
    assert r.exit_code == 1 and "is not empty" in r.stderr


def test_the_demo_uses_a_logged_in_agent_for_the_analysis_and_the_fixes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "agent-bin"
    bin_dir.mkdir()
    (bin_dir / "codex").symlink_to(FAKES / "codex.py")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_AGENT_LOG", str(tmp_path / "calls.jsonl"))
    r = run_cli(tmp_path, "demo", "--dir", str(tmp_path / "demo"))
    assert "agent: codex (logged in)" in r.stdout, r.output
    calls = [json.loads(line) for line in (tmp_path / "calls.jsonl").read_text().splitlines()]
    assert any(c["argv"][:1] == ["exec"] for c in calls)  # the agent was asked to work
    assert (tmp_path / "demo" / "home" / "logs" / "report.html").exists()
