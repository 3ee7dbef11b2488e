"""Keep main green: every new SHA of the base branch is proven; a red one becomes a gate item,
fixed on that SHA, proven there, and landed only if main did not move (else proven again)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import git, init_home, make_target, run_cli
from test_conversation import configure


def break_main(target: Path) -> str:
    (target / "done").mkdir(exist_ok=True)
    (target / "done" / "broken.txt").write_text("")  # the gate wants no empty file in done/
    git(target, "add", "-A")
    git(target, "commit", "-qm", "an empty file breaks the gate")
    return git(target, "rev-parse", "main")


def gate_items(home: Path) -> list[dict]:
    docs = [json.loads(p.read_text()) for p in (home / "state" / "items").glob("*.json")]
    return [d for d in docs if d["kind"] == "gate"]


def main_state(home: Path) -> dict:
    return json.loads((home / "state" / "main.json").read_text())


def test_a_red_main_is_fixed_on_that_sha_and_fast_forwarded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = make_target(tmp_path / "t", [])
    home = init_home(tmp_path / "h", target)
    assert run_cli(home, "start", "--once").exit_code == 0  # green: proven once
    green = main_state(home)["last_proven_sha"]
    red = break_main(target)
    monkeypatch.setenv("FAKE_WORKER_DEFAULT", "Append fixed to done/broken.txt")
    r = run_cli(home, "start", "--until-idle")
    assert r.exit_code == 0, r.output
    [item] = gate_items(home)
    assert item["state"] == "merged", item["history"]
    assert item["base_sha"] == red and item["source"]["command"] == "sh check.sh"
    assert f"main is red at {red[:12]}" in item["history"][0]["reason"]
    assert git(target, "rev-parse", "main") == item["head_sha"]
    assert (target / "done" / "broken.txt").read_text().strip() == "fixed"
    state = main_state(home)
    assert state["last_red_sha"] == red and state["last_proven_sha"] == item["head_sha"]
    assert green != red
    assert (
        f"base branch: last proven {item['head_sha'][:12]}, last red {red[:12]}"
        in run_cli(home, "status").stdout
    )


def test_a_commit_to_main_during_verification_forces_a_proof_on_the_new_sha(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = make_target(tmp_path / "t", [])
    once = tmp_path / "commit-once.sh"
    once.write_text(
        f"[ -f {tmp_path}/done-once ] && exit 0; touch {tmp_path}/done-once; "
        f"echo note > {target}/NOTES && git -C {target} add NOTES && "
        f"git -C {target} commit -qm 'someone pushes to main during verification'\n"
    )
    home = init_home(tmp_path / "h", target, gate=f"sh check.sh && sh {once}")
    red = break_main(target)
    monkeypatch.setenv("FAKE_WORKER_DEFAULT", "Append fixed to done/broken.txt")
    r = run_cli(home, "start", "--until-idle")
    assert r.exit_code == 0, r.output
    [item] = gate_items(home)
    assert item["state"] == "merged", item["history"]
    moved = [h for h in item["history"] if "rebased onto" in h["reason"]]
    assert moved, item["history"]  # proven again on the new SHA before it landed
    assert item["base_sha"] != red
    log = git(target, "log", "--format=%s", "main")
    assert "someone pushes to main during verification" in log
    assert (target / "NOTES").exists() and (target / "done" / "broken.txt").read_text() == "fixed\n"


def test_the_same_red_state_on_the_next_sha_is_the_same_item(tmp_path: Path) -> None:
    target = make_target(tmp_path / "t", [])
    home = init_home(tmp_path / "h", target)
    break_main(target)
    assert run_cli(home, "scan").exit_code == 0
    (target / "README").write_text("unrelated\n")
    git(target, "add", "-A")
    git(target, "commit", "-qm", "unrelated")
    assert run_cli(home, "scan").exit_code == 0
    [item] = gate_items(home)
    assert len(item["occurrences"]) == 2 and item["state"] == "approved"


def test_when_the_attempts_run_out_the_gate_worktree_goes_back_to_the_last_proven_sha(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = make_target(tmp_path / "t", [])
    home = init_home(tmp_path / "h", target)
    configure(home, consecutive_failures="5")
    assert run_cli(home, "start", "--once").exit_code == 0
    green = main_state(home)["last_proven_sha"]
    break_main(target)
    monkeypatch.setenv("FAKE_WORKER_DEFAULT", "Fail")
    assert run_cli(home, "start", "--until-idle").exit_code == 0
    [item] = gate_items(home)
    assert item["state"] == "failed" and "stays red" in item["needs_person"]
    assert git(home / "worktrees" / "gate", "rev-parse", "HEAD") == green
    assert f"needs a person: {item['id']}" in run_cli(home, "status").stdout


def test_yaml_on_and_off_mean_on_and_off(tmp_path: Path) -> None:
    from supervisor.config import load_config

    home = init_home(tmp_path / "h", make_target(tmp_path / "t", []))
    for word, meant in (("off", "off"), ("on", "on"), ("'auto'", "auto")):
        configure(home, main=word)
        assert load_config(home / "supervisor.yaml").sources.main == meant
