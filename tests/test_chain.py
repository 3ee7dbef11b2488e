"""The chain end to end on the local forge, through the CLI, with the scripted fake worker."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import git, init_home, make_target, run_cli
from test_conversation import configure

from supervisor.items import TRANSITIONS


def items(home: Path) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in (home / "state" / "items").glob("*.json")}


def by_title(home: Path, title: str) -> dict:
    [item] = [i for i in items(home).values() if i["title"] == title]
    return item


def forge(home: Path, kind: str, number: int) -> dict:
    return json.loads((home / "state" / "forge" / kind / f"{number}.json").read_text())


def test_tasks_are_fixed_verified_and_fast_forwarded(home: Path, target: Path) -> None:
    before = git(target, "rev-parse", "main")
    r = run_cli(home, "start", "--until-idle")
    assert r.exit_code == 0, r.output
    assert "nothing left to do" in r.stdout
    # The target's main moved forward only: each task is a change plus its check-off.
    log = git(target, "log", "--format=%s", f"{before}..main").splitlines()
    assert sorted(log) == sorted(
        [
            "Create done/one.txt",
            "Check off: Create done/one.txt",
            "Create done/two.txt",
            "Check off: Create done/two.txt",
        ]
    )
    assert git(target, "merge-base", "--is-ancestor", before, "main") == ""
    assert (target / "done" / "one.txt").read_text().startswith("Create")
    assert "- [x] Create done/one.txt" in (target / "tasks.md").read_text()
    assert "- [ ]" not in (target / "tasks.md").read_text()
    assert git(target, "status", "--porcelain") == ""
    for item in items(home).values():
        assert item["state"] == "merged"
        assert [h["to"] for h in item["history"]] == [
            "new",
            "triaged",
            "approved",
            "fixing",
            "verifying",
            "reviewing",
            "publishing",
            "pr_open",
            "merged",
        ]
        issue = forge(home, "issues", item["issue"])
        assert issue["state"] == "closed"
        assert f"supervisor:item={item['id']}" in issue["body"]
        pull = forge(home, "pulls", item["pull"])
        assert pull["state"] == "merged" and pull["head"] == f"supervisor/issue-{item['issue']}"
        result = json.loads(
            (home / "state" / "results" / f"issue-{item['issue']}.json").read_text()
        )
        assert result["status"] == "success" and result["failure_reason"] is None
        assert result["head_sha"] == pull["merged_sha"] == item["head_sha"]
        assert result["base_branch"] == "main" and result["branch"] == pull["head"]
        assert set(result) >= {
            "schema_version",
            "issue_id",
            "item_id",
            "attempt",
            "base_sha",
            "timestamp_utc",
            "duration_s",
            "pr_url",
            "summary_file",
            "agent",
        }
        assert result["agent"]["exit_code"] == 0
        assert (home / result["summary_file"]).is_file()
        run = home / "state" / "runs" / f"issue-{item['issue']}" / "attempt-1"
        assert "Create done/" in (run / "prompt.md").read_text()
        assert "wrote done/" in (run / "agent.jsonl").read_text()
        assert "$ sh check.sh" in (run / "gate.log").read_text()
        # merged items' worktrees and branches are cleaned up
        assert not (home / "worktrees" / f"issue-{item['issue']}").exists()
    events = [
        json.loads(line) for line in (home / "logs" / "events.jsonl").read_text().splitlines()
    ]
    assert sum(e.get("to") == "merged" for e in events) == 2
    cursors = json.loads((home / "state" / "cursors.json").read_text())
    assert cursors["scan"]["base_branch"] == "main" and cursors["scan"]["candidates"] == 0
    assert cursors["scan"]["base_sha"] == git(target, "rev-parse", "main")
    assert "last scan: " in run_cli(home, "status").stdout
    # A second run finds nothing new to do and changes nothing.
    head = git(target, "rev-parse", "main")
    r = run_cli(home, "start", "--until-idle")
    assert r.exit_code == 0 and git(target, "rev-parse", "main") == head


def test_worker_only_writes_in_its_issue_worktree_gate_runs_in_gate(tmp_path: Path) -> None:
    target = make_target(tmp_path / "t", ["Create done/a.txt"])
    # The gate records where it runs; it fails if the worker's file is missing there.
    home = init_home(tmp_path / "h", target, gate="test -f done/a.txt")
    r = run_cli(home, "start", "--until-idle")
    assert r.exit_code == 0, r.output
    item = next(iter(items(home).values()))
    gate_log = home / "state" / "runs" / f"issue-{item['issue']}" / "attempt-1" / "gate.log"
    assert f"gate in {home / 'worktrees' / 'gate'}" in gate_log.read_text()


def test_failing_worker_uses_three_attempts_then_item_failed(tmp_path: Path) -> None:
    target = make_target(tmp_path / "t", ["Fail always"])
    home = init_home(tmp_path / "h", target)
    r = run_cli(home, "start", "--until-idle")
    assert r.exit_code == 0, r.output
    [item] = items(home).values()
    assert item["state"] == "failed"
    assert [a["failure_reason"] for a in item["attempts"]] == ["crashed"] * 3
    assert "exited with code 1" in item["attempts"][0]["detail"]
    result = json.loads((home / "state" / "results" / f"issue-{item['issue']}.json").read_text())
    assert result["status"] == "failed" and result["failure_reason"] == "crashed"
    assert result["attempt"] == 3
    assert git(target, "log", "--oneline").count("\n") == 0  # nothing landed
    assert "- [ ] Fail always" in (target / "tasks.md").read_text()
    r = run_cli(home, "show", item["id"])
    assert "attempt 3: failed: crashed" in r.stdout


def test_consecutive_failures_stop_the_chain(tmp_path: Path) -> None:
    target = make_target(tmp_path / "t", ["Fail one", "Fail two", "Fail three", "Create done/x"])
    home = init_home(tmp_path / "h", target)
    (home / "supervisor.yaml").write_text(
        (home / "supervisor.yaml")
        .read_text()
        .replace("consecutive_failures: 3", "consecutive_failures: 2")
    )
    r = run_cli(home, "start", "--until-idle")
    assert r.exit_code == 1
    assert "stopping: 2 items failed in a row" in r.stdout
    states = sorted(i["state"] for i in items(home).values())
    assert states.count("failed") == 2 and "merged" not in states


def test_no_change_is_a_failed_attempt_with_that_reason(tmp_path: Path) -> None:
    target = make_target(tmp_path / "t", ["Nothing to do here"])
    home = init_home(tmp_path / "h", target)
    run_cli(home, "start", "--until-idle")
    [item] = items(home).values()
    assert item["state"] == "failed"
    assert {a["failure_reason"] for a in item["attempts"]} == {"no_change"}


def test_agent_committing_itself_is_bad_output_and_base_untouched(tmp_path: Path) -> None:
    target = make_target(tmp_path / "t", ["Selfcommit done/s.txt"])
    home = init_home(tmp_path / "h", target)
    base = git(target, "rev-parse", "main")
    run_cli(home, "start", "--until-idle")
    [item] = items(home).values()
    assert item["attempts"][0]["failure_reason"] == "bad_output"
    assert "commits itself" in item["attempts"][0]["detail"]
    assert git(target, "rev-parse", "main") == base
    mirror = home / "worktrees" / "mirror.git"
    assert git(mirror, "rev-parse", "refs/heads/main") == base
    # the issue worktree was put back to where it was before the attempt
    assert git(home / "worktrees" / f"issue-{item['issue']}", "rev-parse", "HEAD") == base


def test_gate_failure_feeds_the_next_attempt(tmp_path: Path) -> None:
    # A gate that fails the first time it runs, driven by a counter file outside the worktrees.
    counter = tmp_path / "runs"
    target = make_target(tmp_path / "t", ["Create done/g.txt"])
    gate = f'n=$(cat {counter} 2>/dev/null || echo 0); echo $((n+1)) > {counter}; [ "$n" -ge 1 ]'
    home = init_home(tmp_path / "h", target, gate=gate)
    configure(home, main="off")  # the counting gate must count the candidate's runs only
    r = run_cli(home, "start", "--until-idle")
    assert r.exit_code == 0, r.output
    [item] = items(home).values()
    assert item["state"] == "merged"
    assert item["attempts"][0]["failure_reason"] == "fast_gate_failed"
    assert item["attempts"][1]["status"] == "succeeded"
    second = home / "state" / "runs" / f"issue-{item['issue']}" / "attempt-2" / "prompt.md"
    assert "What the previous attempt got wrong" in second.read_text()
    assert "fast gate failed" in second.read_text()


def test_worker_timeout_kills_the_tree_and_is_recorded(tmp_path: Path) -> None:
    import psutil

    target = make_target(tmp_path / "t", ["Hang forever"])
    home = init_home(tmp_path / "h", target)
    cfg = (home / "supervisor.yaml").read_text()
    cfg = cfg.replace("timeout: 45m", "timeout: 2s").replace("grace: 10s", "grace: 1s")
    cfg = cfg.replace("attempts: 3", "attempts: 1")
    (home / "supervisor.yaml").write_text(cfg)
    r = run_cli(home, "start", "--until-idle")
    assert r.exit_code == 0, r.output
    [item] = items(home).values()
    assert item["state"] == "failed"
    assert item["attempts"][0]["failure_reason"] == "timeout"
    # the worker and its grandchild ran in the item's worktree: nothing there is left alive
    leftovers = [
        p
        for p in psutil.process_iter(["cwd", "status"])
        if p.info["status"] != psutil.STATUS_ZOMBIE
        and str(p.info["cwd"] or "").startswith(str(home))
    ]
    assert leftovers == []


def test_base_moved_before_landing_is_rebased_and_verified_again(tmp_path: Path) -> None:
    target = make_target(tmp_path / "t", ["Create done/r.txt"])
    flag = tmp_path / "moved"
    # The slow gate (run just before landing) moves the target's main once, as a person would.
    move = (
        f"[ -e {flag} ] || (touch {flag} && cd {target} && echo x > other.txt && "
        "git add other.txt && git commit -qm 'someone else' )"
    )
    home = init_home(tmp_path / "h", target, "--gate-slow", move)
    r = run_cli(home, "start", "--until-idle")
    assert r.exit_code == 0, r.output
    [item] = items(home).values()
    assert item["state"] == "merged", item["history"]
    reasons = [h["reason"] for h in item["history"]]
    assert any("moved" in reason and "rebased onto" in reason for reason in reasons)
    assert [h["to"] for h in item["history"]].count("verifying") == 2
    log = git(target, "log", "--format=%s", "main").splitlines()
    assert log[:3] == ["Check off: Create done/r.txt", "Create done/r.txt", "someone else"]
    assert (target / "other.txt").exists() and (target / "done" / "r.txt").exists()


def test_reviewer_command_request_changes_then_approve(tmp_path: Path) -> None:
    target = make_target(tmp_path / "t", ["Create done/v.txt"])
    reviewer = tmp_path / "reviewer.sh"
    count = tmp_path / "reviews"
    reviewer.write_text(
        "#!/bin/sh\ncat > /dev/null\n"
        f"n=$(cat {count} 2>/dev/null || echo 0); echo $((n+1)) > {count}\n"
        'if [ "$n" = 0 ]; then echo \'{"verdict": "request_changes", "score": 3, '
        '"summary": "name it better", "comments": [{"path": "done/v.txt", "line": 1, '
        '"body": "too short"}]}\'\n'
        'else printf \'Looks fine.\\n```json\\n{"verdict": "approve", "score": 9}\\n```\\n\'; fi\n'
    )
    reviewer.chmod(0o755)
    home = init_home(tmp_path / "h", target, "--reviewer", str(reviewer))
    r = run_cli(home, "start", "--until-idle")
    assert r.exit_code == 0, r.output
    [item] = items(home).values()
    assert item["state"] == "merged"
    assert item["attempts"][0]["failure_reason"] == "review_rejected"
    assert item["attempts"][1]["review"]["verdict"] == "approve"
    prompt = home / "state" / "runs" / f"issue-{item['issue']}" / "attempt-2" / "prompt.md"
    assert "too short" in prompt.read_text()


def test_unparseable_review_is_never_an_approval(tmp_path: Path) -> None:
    target = make_target(tmp_path / "t", ["Create done/u.txt"])
    home = init_home(tmp_path / "h", target, "--reviewer", "echo LGTM, ship it")
    run_cli(home, "start", "--until-idle")
    [item] = items(home).values()
    assert item["state"] == "failed"
    assert item["attempts"][0]["failure_reason"] == "review_failed"
    assert "unusable verdict" in item["attempts"][0]["detail"]
    # later attempts may find nothing more to change; none is ever approved
    assert {a["failure_reason"] for a in item["attempts"]} <= {"review_failed", "no_change"}
    assert "- [ ]" in (target / "tasks.md").read_text()


def test_labelled_local_issue_becomes_an_item(home: Path, target: Path) -> None:
    issues = home / "state" / "forge" / "issues"
    issues.mkdir(parents=True)
    (issues / "1.json").write_text(
        json.dumps(
            {
                "schema_version": 1,
                "number": 1,
                "title": "Please add a file",
                "body": "Create done/from-issue.txt",
                "labels": ["ai-task"],
                "author": "me",
            }
        )
    )
    (target / "tasks.md").write_text("# nothing\n")
    git(target, "commit", "-qam", "no tasks")
    r = run_cli(home, "start", "--until-idle")
    assert r.exit_code == 0, r.output
    item = items(home)["issue-1"]
    assert item["state"] == "merged" and item["issue"] == 1
    assert forge(home, "issues", 1)["state"] == "closed"
    assert (target / "done" / "from-issue.txt").exists()


def test_issue_closed_by_a_person_stops_the_work(home: Path, target: Path) -> None:
    r = run_cli(home, "start", "--max-items", "1")
    assert r.exit_code == 0, r.output
    waiting = [i for i in items(home).values() if i["state"] == "approved"]
    assert waiting, items(home)
    number = waiting[0]["issue"]
    path = home / "state" / "forge" / "issues" / f"{number}.json"
    doc = json.loads(path.read_text())
    doc["state"] = "closed"
    path.write_text(json.dumps(doc))
    run_cli(home, "start", "--until-idle")
    assert items(home)[waiting[0]["id"]]["state"] == "closed_wontfix"


def test_max_items_and_once(home: Path, target: Path) -> None:
    r = run_cli(home, "start", "--max-items", "1")
    assert r.exit_code == 0, r.output
    assert "--max-items 1 reached" in r.stdout
    states = sorted(i["state"] for i in items(home).values())
    assert states == ["approved", "merged"]  # both triaged (issues opened), one worked on
    r = run_cli(home, "start", "--once")
    assert r.exit_code == 0
    assert sorted(i["state"] for i in items(home).values()) == ["merged", "merged"]


def test_dry_run_changes_nothing(home: Path, target: Path) -> None:
    def snapshot() -> dict[str, bytes]:
        out = {}
        for root in (home, target):
            for p in sorted(root.rglob("*")):
                if p.is_file():
                    out[str(p)] = p.read_bytes()
        return out

    before = snapshot()
    r = run_cli(home, "start", "--dry-run")
    assert r.exit_code == 0, r.output
    assert "would clone" in r.stdout
    assert "would add task" in r.stdout and "Create done/one.txt" in r.stdout
    assert snapshot() == before
    run_cli(home, "start", "--max-items", "1")
    before = snapshot()
    r = run_cli(home, "start", "--dry-run")
    assert "would fetch" in r.stdout and "would advance" in r.stdout
    assert snapshot() == before


def test_every_state_in_the_table_is_reachable_from_new() -> None:
    seen, todo = {"new"}, ["new"]
    while todo:
        for nxt in TRANSITIONS[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    assert seen == set(TRANSITIONS)


@pytest.mark.parametrize("content", [b"\x00\x01garbage", b'{"schema_version": 1, "state": 7}'])
def test_corrupt_item_is_moved_aside_and_reported(home: Path, content: bytes) -> None:
    run_cli(home, "start", "--max-items", "1")
    [path] = [
        p
        for p in (home / "state" / "items").glob("*.json")
        if json.loads(p.read_text())["state"] == "approved"
    ]
    path.write_bytes(content)
    r = run_cli(home, "status")
    assert "unreadable state file moved aside" in r.stdout
    aside = list((home / "state" / "items").glob("*.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == content
    r = run_cli(home, "start", "--until-idle")  # the chain goes on without it
    assert r.exit_code == 0, r.output
    # the lost item was found again in tasks.md, and its forge issue by its marker: no duplicate
    assert len(list((home / "state" / "forge" / "issues").glob("*.json"))) == 2
    assert sorted(i["state"] for i in items(home).values()) == ["merged", "merged"]


def test_secrets_never_reach_state_or_logs_and_huge_output_is_bounded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "s3cr3t-value-that-must-not-leak"
    monkeypatch.setenv("MY_SERVICE_TOKEN", secret)
    target = make_target(tmp_path / "t", ["Create done/s.txt"])
    worker = tmp_path / "leaky.sh"
    worker.write_text(
        "#!/bin/sh\ncat >/dev/null\nmkdir -p done && echo ok > done/s.txt\n"
        'echo "my token is $MY_SERVICE_TOKEN"\n'
        'echo "and ghp_abcdefghijklmnopqrstuvwxyz0123456789"\n'
    )
    worker.chmod(0o755)
    # The gate prints the secret and about 6 MB of output before passing.
    gate = 'echo "gate sees $MY_SERVICE_TOKEN"; yes 0123456789abcdef | head -c 6000000; echo'
    home = init_home(tmp_path / "h", target, worker=str(worker), gate=gate)
    r = run_cli(home, "start", "--until-idle")
    assert r.exit_code == 0, r.output
    [item] = items(home).values()
    assert item["state"] == "merged"
    run = home / "state" / "runs" / f"issue-{item['issue']}" / "attempt-1"
    assert "my token is ***" in (run / "agent.jsonl").read_text()
    full = run / "gate-fast-1.out"
    assert full.stat().st_size > 6_000_000 and "gate sees ***" in full.read_text()
    assert (run / "gate.log").stat().st_size < 100_000
    for root in (home / "state", home / "logs"):
        for path in root.rglob("*"):
            if path.is_file():
                text = path.read_bytes()
                assert secret.encode() not in text, path
                assert b"ghp_abcdefghijklmnopqrstuvwxyz0123456789" not in text, path


@pytest.mark.parametrize(("cited", "merged"), [("TestGood", True), ("TestBad", False)])
def test_the_tests_a_reviewer_cites_are_run_again_before_an_approval_counts(
    tmp_path: Path, cited: str, merged: bool
) -> None:
    target = make_target(tmp_path / "t", ["Create done/e.txt"])
    reviewer = tmp_path / "reviewer.sh"
    reviewer.write_text(
        "#!/bin/sh\ncat > /dev/null\n"
        f'echo \'{{"verdict": "approve", "score": 9, "evidence": [{{"test": "{cited}", '
        '"command": "rm -rf / # never run: only the configured gate is"}]}\'\n'
    )
    reviewer.chmod(0o755)
    gate = 'sh check.sh && [ "x{test}" != "xTestBad" ]'
    home = init_home(tmp_path / "h", target, "--reviewer", str(reviewer), gate=gate)
    run_cli(home, "start", "--until-idle")
    [item] = items(home).values()
    first = item["attempts"][0]
    assert first["evidence"] == [{"test": cited, "ok": merged}]
    if merged:
        assert item["state"] == "merged"
        assert any("cited tests passed again: TestGood" in h["reason"] for h in item["history"])
    else:
        assert item["state"] == "failed"
        assert first["failure_reason"] == "review_rejected"
        assert "cited TestBad as evidence, and it failed" in first["detail"]


def test_an_agent_writing_outside_its_worktree_is_caught_and_undone(tmp_path: Path) -> None:
    target = make_target(tmp_path / "t", ["Create done/x.txt"])
    worker = tmp_path / "intruder.sh"
    worker.write_text(
        "#!/bin/sh\ncat > /dev/null\nmkdir -p done && echo ok > done/x.txt\n"
        'mirror="$SUPERVISOR_WORKTREE/../mirror.git"\n'
        'new=$(git -C "$mirror" commit-tree -p main -m sneaky "main^{tree}")\n'
        'git -C "$mirror" update-ref refs/heads/main "$new"\n'
    )
    worker.chmod(0o755)
    home = init_home(tmp_path / "h", target, worker=str(worker))
    cfg = (home / "supervisor.yaml").read_text().replace("attempts: 3", "attempts: 1")
    (home / "supervisor.yaml").write_text(cfg)
    base = git(target, "rev-parse", "main")
    run_cli(home, "start", "--until-idle")
    [item] = items(home).values()
    assert item["state"] == "failed"
    first = item["attempts"][0]
    assert first["failure_reason"] == "bad_output"
    assert "outside its worktree: the mirror's branches" in first["detail"]
    assert git(home / "worktrees" / "mirror.git", "rev-parse", "refs/heads/main") == base
    assert git(target, "rev-parse", "main") == base


@pytest.mark.parametrize(
    ("script", "reason"),
    [
        ('cd .. && rm -rf "$SUPERVISOR_WORKTREE"', "the agent deleted its worktree"),
        (
            "mkdir -p done && echo a > done/r.txt && git add -A && "
            "git -c user.name=a -c user.email=a@a commit -qm one && "
            "echo b > done/r.txt && git add -A && "
            "two=$(git -c user.name=a -c user.email=a@a commit-tree -p HEAD~1 -m two "
            '"$(git write-tree)") && git reset -q --hard HEAD && '
            'git -c user.name=a -c user.email=a@a rebase "$two" >/dev/null 2>&1; true',
            "rebase or merge unfinished",
        ),
        ("head -c 20000000 /dev/urandom | base64", "no_change"),
    ],
    ids=["deletes-worktree", "mid-rebase", "megabytes"],
)
def test_bad_agents_are_failed_attempts_and_touch_nothing_else(
    tmp_path: Path, script: str, reason: str
) -> None:
    target = make_target(tmp_path / "t", ["Create done/r.txt"])
    worker = tmp_path / "bad.sh"
    worker.write_text(f"#!/bin/sh\ncat > /dev/null\n{script}\n")
    worker.chmod(0o755)
    home = init_home(tmp_path / "h", target, worker=str(worker))
    cfg = (home / "supervisor.yaml").read_text().replace("attempts: 3", "attempts: 1")
    (home / "supervisor.yaml").write_text(cfg)
    base = git(target, "rev-parse", "main")
    r = run_cli(home, "start", "--until-idle")
    assert r.exit_code == 0, r.output
    [item] = items(home).values()
    first = item["attempts"][0]
    assert item["state"] == "failed"
    assert reason in (first["detail"] + first["failure_reason"]), first
    assert git(target, "rev-parse", "main") == base
    assert git(home / "worktrees" / "mirror.git", "rev-parse", "refs/heads/main") == base
