"""The local forge: issues and pull requests as JSON files, one number sequence."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path
from typing import Any

import pytest

from supervisor.errors import UserError
from supervisor.forge.base import marker
from supervisor.forge.local import LocalForge
from supervisor.ids import IssueNumber


@pytest.fixture
def forge(tmp_path: Path) -> LocalForge:
    return LocalForge(tmp_path / "forge")


def files(forge: LocalForge) -> list[str]:
    """The issue and pull request files (not the number claims under numbers/)."""
    return sorted(
        str(p.relative_to(forge.root))
        for p in forge.root.rglob("*")
        if p.is_file() and p.parent != forge.claims_dir
    )


def test_issues_and_pulls_share_one_sequence(forge: LocalForge) -> None:
    one = forge.create_issue("first", "body 1", ["ai-task"])
    two = forge.create_issue("second", "body 2", [])
    pull = forge.create_pull("fix first", "Closes #1", "supervisor/issue-1", "main", draft=True)
    three = forge.create_issue("third", "", [])
    assert (one.number, two.number, pull.number, three.number) == (1, 2, 3, 4)
    assert files(forge) == ["issues/1.json", "issues/2.json", "issues/4.json", "pulls/3.json"]
    assert one.url == "local:issues/1"
    assert pull.url == "local:pulls/3"
    doc = json.loads((forge.issues_dir / "1.json").read_text())
    assert doc["schema_version"] == 1
    assert (doc["title"], doc["body"], doc["state"], doc["labels"]) == (
        "first",
        "body 1",
        "open",
        ["ai-task"],
    )
    assert doc["author"] == "supervisor"
    assert doc["comments"] == []


def test_get_issue_and_pull(forge: LocalForge) -> None:
    forge.create_issue("first", "body", ["a", "b"])
    forge.create_pull("fix", "text", "supervisor/issue-1", "main", draft=False)
    issue = forge.get_issue(IssueNumber(1))
    assert (issue.title, issue.body, issue.state, issue.labels) == (
        "first",
        "body",
        "open",
        ("a", "b"),
    )
    pull = forge.get_pull(2)
    assert (pull.title, pull.head, pull.base, pull.state, pull.draft) == (
        "fix",
        "supervisor/issue-1",
        "main",
        "open",
        False,
    )
    assert pull.merged_sha is None


def test_get_of_a_missing_number_is_a_user_error(forge: LocalForge) -> None:
    with pytest.raises(UserError, match=r"the local forge has no issue 9 \("):
        forge.get_issue(IssueNumber(9))
    with pytest.raises(UserError, match=r"the local forge has no pull 9 \("):
        forge.get_pull(9)


def test_find_issue_by_marker(forge: LocalForge) -> None:
    forge.create_issue("other", "no marker", [])
    body = f"A flaky test\n\n{marker('flaky-abc')}\n"
    created = forge.create_issue("TestFoo is flaky", body, ["flaky"])
    forge.close_issue(created.number, "fixed")
    found = forge.find_issue(marker("flaky-abc"))
    assert found is not None
    assert found.number == created.number
    assert found.state == "closed"  # closed issues are found too
    assert forge.find_issue(marker("flaky-zzz")) is None
    assert LocalForge(forge.root / "empty").find_issue(marker("x")) is None


def test_comment_with_a_marker_is_idempotent(forge: LocalForge) -> None:
    issue = forge.create_issue("t", "", [])
    mark = marker("task-1", "analysis")
    first = forge.comment(issue.number, f"Likely cause: a race.\n{mark}")
    again = forge.comment(issue.number, f"Likely cause: something else.\n{mark}")
    other = forge.comment(issue.number, f"Another step.\n{marker('task-1', 'reply-1')}")
    assert again == first
    assert (first.id, other.id) == (1, 2)
    assert first.author == "supervisor"
    comments = forge.list_comments(issue.number)
    assert [c.body for c in comments] == [
        f"Likely cause: a race.\n{mark}",
        f"Another step.\n{marker('task-1', 'reply-1')}",
    ]
    assert [c.id for c in forge.list_comments(issue.number, since_id=1)] == [2]


def test_comments_without_a_marker_are_all_kept(forge: LocalForge) -> None:
    issue = forge.create_issue("t", "", [])
    forge.comment(issue.number, "same text")
    forge.comment(issue.number, "same text")
    assert [c.id for c in forge.list_comments(issue.number)] == [1, 2]


def test_comment_on_a_pull(forge: LocalForge) -> None:
    forge.create_issue("t", "", [])
    pull = forge.create_pull("p", "", "supervisor/issue-1", "main", draft=True)
    forge.comment(pull.number, "looks good")
    assert [c.body for c in forge.list_comments(pull.number)] == ["looks good"]
    assert forge.list_comments(1) == []
    with pytest.raises(UserError):
        forge.comment(42, "nowhere")


def test_list_issues_by_label_and_state(forge: LocalForge) -> None:
    a = forge.create_issue("a", "", ["ai-task"])
    forge.create_issue("b", "", ["bug"])
    c = forge.create_issue("c", "", ["bug", "ai-task"])
    d = forge.create_issue("d", "", ["ai-task"])
    forge.create_pull("p", "", "h", "main", draft=False)  # pulls are not issues
    forge.close_issue(d.number, "done")
    assert [i.number for i in forge.list_issues("ai-task")] == [a.number, c.number]
    assert [i.number for i in forge.list_issues("ai-task", state="closed")] == [d.number]
    assert forge.list_issues("nothing") == []


def test_list_issues_in_number_order_past_nine(forge: LocalForge) -> None:
    for n in range(12):
        forge.create_issue(f"i{n}", "", ["x"])
    assert [i.number for i in forge.list_issues("x")] == list(range(1, 13))


def test_close_issue(forge: LocalForge) -> None:
    issue = forge.create_issue("t", "", [])
    forge.close_issue(issue.number, "merged")
    doc = json.loads((forge.issues_dir / "1.json").read_text())
    assert (doc["state"], doc["closed_reason"]) == ("closed", "merged")
    closed_at = doc["closed_at"]
    forge.close_issue(issue.number, "again")  # closing twice keeps the first close
    doc = json.loads((forge.issues_dir / "1.json").read_text())
    assert (doc["closed_reason"], doc["closed_at"]) == ("merged", closed_at)
    assert forge.get_issue(issue.number).state == "closed"


def test_find_pull_by_head_and_mark_merged(forge: LocalForge) -> None:
    assert forge.find_pull("supervisor/issue-1") is None
    forge.create_issue("t", "", [])
    pull = forge.create_pull("p", "", "supervisor/issue-1", "main", draft=True)
    forge.create_pull("q", "", "supervisor/issue-9", "main", draft=False)
    found = forge.find_pull("supervisor/issue-1")
    assert found == pull
    forge.mark_pull_merged(pull.number, "abc123")
    merged = forge.get_pull(pull.number)
    assert (merged.state, merged.merged_sha, merged.draft) == ("merged", "abc123", False)
    assert forge.find_pull("supervisor/issue-1") == merged
    assert json.loads((forge.pulls_dir / "2.json").read_text())["merged_at"]


def _create_many(root: str, tag: str, count: int, start: Any, out: Any) -> None:
    forge = LocalForge(Path(root))
    start.wait()
    numbers = [int(forge.create_issue(f"{tag}-{n}", "", ["race"]).number) for n in range(count)]
    out.put((tag, numbers))


def test_concurrent_creation_never_reuses_a_number(forge: LocalForge) -> None:
    ctx = multiprocessing.get_context("fork")
    start = ctx.Event()
    out = ctx.Queue()
    procs = [
        ctx.Process(target=_create_many, args=(str(forge.root), tag, 20, start, out))
        for tag in ("a", "b")
    ]
    for p in procs:
        p.start()
    start.set()
    results = dict(out.get(timeout=60) for _ in procs)
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    numbers = results["a"] + results["b"]
    assert sorted(numbers) == list(range(1, 41))
    for tag in ("a", "b"):
        assert results[tag] == sorted(results[tag])
        for n, number in enumerate(results[tag]):
            assert forge.get_issue(IssueNumber(number)).title == f"{tag}-{n}"
    assert files(forge) == sorted(f"issues/{n}.json" for n in range(1, 41))


def test_an_issue_and_a_pull_created_together_get_distinct_numbers(
    forge: LocalForge, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another writer creates a pull request between this writer's choice of a number and its claim.
    other = LocalForge(forge.root)
    real_next = LocalForge._next_number
    interleaved: list[int] = []

    def next_number(self: LocalForge) -> int:
        number = real_next(self)
        if self is forge and not interleaved:
            interleaved.append(other.create_pull("p", "", "h", "main", draft=False).number)
        return number

    monkeypatch.setattr(LocalForge, "_next_number", next_number)
    issue = forge.create_issue("i", "", [])
    assert interleaved == [1]
    assert issue.number == 2
    assert forge.get_pull(1).title == "p" and forge.get_issue(IssueNumber(2)).title == "i"


def test_a_hand_written_issue_is_readable(forge: LocalForge) -> None:
    forge.issues_dir.mkdir(parents=True)
    path = forge.issues_dir / "5.json"
    path.write_text('{"title": "Add a --verbose flag", "labels": ["ai-task"]}\n')
    (issue,) = forge.list_issues("ai-task")
    assert (issue.number, issue.title, issue.state, issue.body) == (
        5,
        "Add a --verbose flag",
        "open",
        "",
    )
    assert path.exists()


def test_with_block_rewrites_only_the_supervisors_block() -> None:
    from supervisor.forge.base import BLOCK_END, BLOCK_START, with_block

    first = with_block("A person's report.", "status: new")
    assert first == f"A person's report.\n\n{BLOCK_START}\nstatus: new\n{BLOCK_END}\n"
    edited = first.replace("A person's report.", "A person's report, edited.") + "\nP.S. thanks"
    second = with_block(edited, "status: merged")
    assert second == (
        f"A person's report, edited.\n\n{BLOCK_START}\nstatus: merged\n{BLOCK_END}\n\nP.S. thanks"
    )
    assert with_block(second, "status: merged") == second  # idempotent
    assert with_block("", "x") == f"{BLOCK_START}\nx\n{BLOCK_END}\n"


def test_the_issue_block_follows_the_item_on_the_local_forge(tmp_path: Path) -> None:
    import json

    from conftest import init_home, make_target, run_cli

    target = make_target(tmp_path / "t", ["Create done/b.txt"])
    home = init_home(tmp_path / "h", target)
    issues = home / "state" / "forge" / "issues"
    issues.mkdir(parents=True)
    (issues / "1.json").write_text(
        json.dumps(
            {
                "title": "By a person",
                "body": "Create done/person.txt\n\nWritten by me.",
                "labels": ["ai-task"],
            }
        )
    )
    assert run_cli(home, "start", "--until-idle").exit_code == 0
    person = json.loads((issues / "1.json").read_text())
    assert person["body"].startswith("Create done/person.txt\n\nWritten by me.\n\n")
    assert "**Supervisor status:** fixed and merged (`merged`)" in person["body"]
    task = next(json.loads(p.read_text()) for p in issues.glob("*.json") if p.stem != "1")
    assert "**Pull request:** #" in task["body"] and "(`merged`)" in task["body"]
    assert task["body"].count("supervisor:block:start") == 1
