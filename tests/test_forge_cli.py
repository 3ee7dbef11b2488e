"""`supervisor forge ...`: a person comments, labels, reviews and closes on the local forge."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import init_home, make_target, run_cli
from test_conversation import OWNER, ci_home, the_item

from supervisor.cli import cli
from supervisor.forge.local import LocalForge
from supervisor.ids import IssueNumber


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """A home whose local forge has issue #1 and pull request #2."""
    home = init_home(tmp_path / "h", make_target(tmp_path / "t", []))
    f = LocalForge(home / "state" / "forge")
    f.create_issue("Flaky TestWait", "It fails under load.", ["ci-flaky"])
    f.create_pull("Fix TestWait", "Fixes #1", "supervisor/issue-1", "main", draft=False)
    return home


def forge(home: Path) -> LocalForge:
    return LocalForge(home / "state" / "forge")


def ok(home: Path, *args: str) -> str:
    r = run_cli(home, "forge", *args)
    assert r.exit_code == 0, r.output
    return r.stdout


def fails(home: Path, *args: str) -> str:
    r = run_cli(home, "forge", *args)
    assert r.exit_code == 1 and r.stdout == "", r.output
    return r.stderr


def test_list_and_show_issues_and_pull_requests(home: Path) -> None:
    assert ok(home, "list").splitlines() == [
        "#1     issue  open    Flaky TestWait  [ci-flaky]",
        "#2     pull   open    Fix TestWait  (supervisor/issue-1 -> main)",
    ]
    forge(home).comment(1, "Is it the timeout?", author="alice")
    shown = ok(home, "show", "1")
    assert shown.startswith("issue #1  open  Flaky TestWait\nauthor: supervisor\nlabels: ci-flaky")
    assert "It fails under load." in shown
    assert "comment 1 by @alice (NONE)\n    Is it the timeout?" in shown
    raw = json.loads(ok(home, "show", "1", "--json"))
    assert raw["comments"][0]["body"] == "Is it the timeout?" and raw["labels"] == ["ci-flaky"]
    forge(home).add_review(
        2, "alice", "COMMENTED", "Looks close.", [{"path": "a.go", "line": 3, "body": "why sleep?"}]
    )
    shown = ok(home, "show", "2")
    assert shown.startswith("pull request #2  open  Fix TestWait\nsupervisor/issue-1 -> main")
    assert "review 2 by @alice (NONE): COMMENTED\n    Looks close." in shown
    assert "review comment 3 by @alice on a.go:3\n    why sleep?" in shown
    assert json.loads(ok(home, "show", "2", "--json"))["head"] == "supervisor/issue-1"
    ok(home, "close", "2")
    assert ok(home, "list").splitlines() == ["#1     issue  open    Flaky TestWait  [ci-flaky]"]
    assert ok(home, "list", "--state", "closed").startswith("#2     pull   closed")
    assert len(ok(home, "list", "--state", "all").splitlines()) == 2
    ok(home, "close", "1")
    assert ok(home, "list") == "no open issues or pull requests\n"


def test_comment_as_the_owner_or_another_login_and_from_stdin(home: Path) -> None:
    assert ok(home, "comment", "1", "/ai-fix") == "1\n"
    assert ok(home, "comment", "2", "on the pull request", "--as", "alice") == "2\n"
    r = CliRunner().invoke(
        cli, ["--home", str(home), "forge", "comment", "1", "-"], input="from stdin\n"
    )
    assert r.exit_code == 0 and r.output == "3\n", r.output
    [first, third] = forge(home).list_comments(1)
    assert (first.author, first.author_association, first.body) == (OWNER, "OWNER", "/ai-fix")
    assert third.body == "from stdin\n"
    [second] = forge(home).list_comments(2)
    assert (second.author, second.author_association) == ("alice", "NONE")


def test_a_label_is_an_event_naming_who_added_or_removed_it(home: Path) -> None:
    assert "added label 'ai-fix-approved' on #1 as @alice" in ok(
        home, "label", "1", "ai-fix-approved", "--as", "alice"
    )
    ok(home, "label", "1", "ci-flaky", "--remove")
    assert forge(home).get_issue(IssueNumber(1)).labels == ("ai-fix-approved",)
    events = [(e.label, e.actor, e.action) for e in forge(home).label_events(IssueNumber(1))]
    assert events == [("ai-fix-approved", "alice", "labeled"), ("ci-flaky", OWNER, "unlabeled")]


def test_reviews_with_a_verdict_and_line_comments(home: Path) -> None:
    out = ok(
        home,
        "review",
        "2",
        "--request-changes",
        "-m",
        "Two things.",
        "--line",
        "a.go:12:no sleep: poll",
        "--line",
        "b.go:3:why?",
        "--as",
        "alice",
    )
    assert out == "review 1 (CHANGES_REQUESTED) on pull request #2 as @alice\n"
    ok(home, "review", "2", "--approve")
    reviews = forge(home).list_reviews(2)
    assert [(r.author, r.state, r.body) for r in reviews] == [
        ("alice", "CHANGES_REQUESTED", "Two things."),
        (OWNER, "APPROVED", ""),
    ]
    assert reviews[1].author_association == "OWNER"
    threads = [(c.path, c.line, c.body) for c in forge(home).list_review_comments(2)]
    assert threads == [("a.go", 12, "no sleep: poll"), ("b.go", 3, "why?")]


def test_close_an_issue_or_a_pull_request_once(home: Path) -> None:
    assert ok(home, "close", "1", "--reason", "completed", "--as", "alice") == (
        "closed issue #1 as @alice\n"
    )
    doc = json.loads((home / "state/forge/issues/1.json").read_text())
    assert (doc["state"], doc["closed_reason"], doc["closed_by"]) == (
        "closed",
        "completed",
        "alice",
    )
    assert ok(home, "close", "1") == "#1 is closed already\n"
    assert ok(home, "close", "2") == "closed pull request #2 as @" + OWNER + "\n"
    assert forge(home).get_pull(2).state == "closed"


def test_what_is_wrong_and_how_to_fix_it(home: Path, tmp_path: Path) -> None:
    for args in (("show", "9"), ("comment", "9", "hi"), ("close", "9"), ("label", "9", "x")):
        assert "no issue or pull request #9" in fails(home, *args)
        assert "`supervisor forge list --state all`" in fails(home, *args)
    assert "#2 is a pull request" in fails(home, "label", "2", "ai-fix-approved")
    assert "`supervisor forge comment 1 TEXT`" in fails(home, "review", "1", "--approve")
    assert "pass one" in fails(home, "review", "2")
    assert "pass one" in fails(home, "review", "2", "--approve", "--comment")
    assert "-m TEXT or --line" in fails(home, "review", "2", "--request-changes")
    assert "PATH:LINE:TEXT" in fails(home, "review", "2", "--comment", "--line", "a.go:x:hm")
    assert "the comment is empty" in fails(home, "comment", "1", " ")
    assert "supervisor's own login" in fails(home, "comment", "1", "hi", "--as", "supervisor")
    assert forge(home).list_comments(1) == [] and forge(home).list_reviews(2) == []
    assert forge(home).get_issue(IssueNumber(1)).labels == ("ci-flaky",)
    github = tmp_path / "gh-home"
    github.mkdir()
    r = run_cli(github, "init", "--forge", "github", "--target", "octo/repo")
    assert r.exit_code == 0, r.output
    err = fails(github, "list")
    assert "says forge: github" in err and "on GitHub itself (octo/repo" in err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "run `supervisor init --target PATH`" in fails(empty, "comment", "1", "hi")


def test_the_owners_ai_fix_comment_takes_a_flaky_test_to_merged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home, _ = ci_home(tmp_path, monkeypatch)
    assert run_cli(home, "start", "--once").exit_code == 0
    item = the_item(home)
    assert item["state"] == "awaiting_approval"
    n = str(item["issue"])
    assert "**Likely root cause**" in ok(home, "show", n)
    ok(home, "comment", n, "/ai-fix")
    r = run_cli(home, "start", "--until-idle")
    assert r.exit_code == 0, r.output
    item = the_item(home)
    assert item["state"] == "merged", item["history"]
    assert item["conversation"]["approval"]["by"] == OWNER
    assert ok(home, "list", "--state", "closed").startswith(f"#{n}")
