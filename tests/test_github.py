"""GitHub: the client and the forge against the fake server, and the whole chain end to end."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import git, init_home, make_target, run_cli
from fakegithub.server import FakeGitHub

from supervisor.cursors import CursorEtags
from supervisor.errors import UserError
from supervisor.forge.base import marker
from supervisor.github.client import GitHubClient, GitHubError, MaybeApplied, RetryPolicy
from supervisor.github.forge import GitHubForge
from supervisor.home import Home

TOKEN = "ghp_supervisorbot00000000000000000000000"
MAINT = "ghp_maintainer000000000000000000000000000"
REPO = "acme/widgets"


@dataclass
class World:
    fake: FakeGitHub
    bare: Path
    target: Path  # the working repository the bare one was made from
    home: Path


def bare_from(target: Path, dest: Path) -> Path:
    git(dest.parent, "clone", "-q", "--bare", str(target), str(dest))
    return dest


@pytest.fixture
def world(tmp_path: Path, fake_github: FakeGitHub, monkeypatch: pytest.MonkeyPatch) -> World:
    target = make_target(tmp_path / "t", ["Create done/from-task.txt"])
    bare = bare_from(target, tmp_path / "widgets.git")
    fake_github.add_user("bot", TOKEN)
    fake_github.add_user("maint", MAINT)
    fake_github.add_repo(
        "acme", "widgets", git_dir=bare, collaborators={"maint": "MEMBER", "bot": "COLLABORATOR"}
    )
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    home = init_home(tmp_path / "h", target, "--forge", "github")
    cfg = (home / "supervisor.yaml").read_text()
    cfg = cfg.replace(f"target: {target}", f"target: {REPO}")
    cfg = cfg.replace("api_url: https://api.github.com", f"api_url: {fake_github.url}")
    cfg = cfg.replace("backoff: 1s", "backoff: 0.05s").replace("timeout: 30s", "timeout: 2s")
    (home / "supervisor.yaml").write_text(cfg)
    return World(fake_github, bare, target, home)


def client(fake: FakeGitHub, tmp_path: Path, **kw: object) -> GitHubClient:
    home = Home(tmp_path / "ch")
    home.state.mkdir(parents=True, exist_ok=True)
    return GitHubClient(
        fake.url,
        TOKEN,
        etags=CursorEtags(home),
        timeout=2.0,
        retry=RetryPolicy(backoff_s=0.01, max_backoff_s=0.05),
        **kw,
    )  # type: ignore[arg-type]


# -- the client ---------------------------------------------------------------------------------


def test_client_sends_the_api_version_and_the_token_only_in_the_header(
    world: World, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    c = client(world.fake, tmp_path)
    assert c.get("/user")["login"] == "bot"
    sent = world.fake.requests[-1]
    assert sent.headers["X-GitHub-Api-Version"] == "2022-11-28"
    assert sent.headers["Authorization"] == f"Bearer {TOKEN}"
    assert TOKEN not in caplog.text


def test_pagination_follows_the_link_header(world: World, tmp_path: Path) -> None:
    for n in range(105):
        world.fake.open_issue_as("maint", REPO, f"issue {n}", labels=["bulk"])
    c = client(world.fake, tmp_path)
    got = list(c.paginate(f"/repos/{REPO}/issues", {"labels": "bulk", "state": "all"}) or [])
    assert len(got) == 105 and len({i["number"] for i in got}) == 105
    pages = [r for r in world.fake.requests if r.path == f"/repos/{REPO}/issues"]
    assert len(pages) == 2


def test_conditional_requests_keep_etags_in_cursors_and_304_costs_nothing(
    world: World, tmp_path: Path
) -> None:
    world.fake.open_issue_as("maint", REPO, "one", labels=["x"])
    c = client(world.fake, tmp_path)
    first = c.paginate(f"/repos/{REPO}/issues", {"labels": "x"}, etag_key="issues-x")
    assert first is not None and len(list(first)) == 1
    cursors = json.loads((tmp_path / "ch" / "state" / "cursors.json").read_text())
    assert cursors["etags"]["issues-x"]
    before = int(c.request("GET", "/rate_limit").data["resources"]["core"]["remaining"])
    again = client(world.fake, tmp_path)  # a new process: the ETag comes from cursors.json
    assert again.paginate(f"/repos/{REPO}/issues", {"labels": "x"}, etag_key="issues-x") is None
    assert world.fake.requests[-1].status == 304
    after = int(c.request("GET", "/rate_limit").data["resources"]["core"]["remaining"])
    assert after == before


def test_5xx_and_timeouts_on_reads_are_retried(world: World, tmp_path: Path) -> None:
    world.fake.inject(502, method="GET", path_pattern="^/user$", times=2)
    world.fake.inject("timeout", method="GET", path_pattern="^/user$", times=1, seconds=3)
    slept: list[float] = []
    c = client(world.fake, tmp_path, sleep=lambda s: slept.append(s))
    assert c.get("/user")["login"] == "bot"
    assert len(slept) == 3 and all(0 < s <= 0.075 for s in slept)


def test_retries_are_bounded(world: World, tmp_path: Path) -> None:
    world.fake.inject(503, method="GET", path_pattern="^/user$", times=10)
    c = client(world.fake, tmp_path, sleep=lambda s: None)
    with pytest.raises(GitHubError, match="503 5 times"):
        c.get("/user")
    assert len([r for r in world.fake.requests if r.path == "/user"]) == 5


def test_a_post_is_not_blindly_retried(world: World, tmp_path: Path) -> None:
    world.fake.inject(502, method="POST", path_pattern="/issues$", after=True)
    c = client(world.fake, tmp_path, sleep=lambda s: None)
    with pytest.raises(MaybeApplied):
        c.request("POST", f"/repos/{REPO}/issues", json={"title": "t"})
    assert [i.title for i in world.fake.issues(REPO)] == ["t"]  # applied once, not retried


def test_primary_rate_limit_is_waited_out_and_reported(world: World, tmp_path: Path) -> None:
    world.fake.inject("rate_limit_exhausted", method="GET", path_pattern="^/user$", seconds=2)
    waits: list[tuple[str, float]] = []
    slept: list[float] = []
    c = client(
        world.fake,
        tmp_path,
        on_wait=lambda r, u: waits.append((r, u)),
        sleep=lambda s: (slept.append(s), world.fake.advance(s)),
    )
    assert c.get("/user")["login"] == "bot"
    assert waits[0][0] == "rate limit exhausted" and waits[-1] == ("", 0.0)
    assert 1 <= slept[0] <= 4


@pytest.mark.parametrize("status", [403, 429])
def test_secondary_rate_limit_waits_retry_after(world: World, tmp_path: Path, status: int) -> None:
    world.fake.inject(
        "secondary_rate_limit", method="GET", path_pattern="^/user$", seconds=7, status=status
    )
    slept: list[float] = []
    c = client(world.fake, tmp_path, sleep=lambda s: slept.append(s))
    assert c.get("/user")["login"] == "bot"
    assert slept == [7.0]


def test_401_403_404_explain_the_token_scope(world: World, tmp_path: Path) -> None:
    bad = GitHubClient(
        world.fake.url,
        "ghp_wrongwrongwrongwrongwrongwrongwrong1",
        retry=RetryPolicy(backoff_s=0.01),
    )
    with pytest.raises(GitHubError, match=r"rejected the token \(401") as e:
        bad.get("/user")
    assert "'repo' scope" in str(e.value)
    c = client(world.fake, tmp_path)
    with pytest.raises(GitHubError, match=r"\(404\).*check the target owner/name") as e:
        c.get("/repos/acme/nothing")
    assert e.value.status == 404
    assert len([r for r in world.fake.requests if r.path == "/repos/acme/nothing"]) == 1


# -- the forge ----------------------------------------------------------------------------------


def forge(world: World, tmp_path: Path) -> GitHubForge:
    return GitHubForge(
        client(world.fake, tmp_path, sleep=lambda s: None), "acme", "widgets", sleep=lambda s: None
    )


def test_create_issue_after_a_lost_answer_does_not_duplicate(world: World, tmp_path: Path) -> None:
    f = forge(world, tmp_path)
    world.fake.inject(502, method="POST", path_pattern=r"/issues$", after=True)
    body = f"details\n\n{marker('task-1')}"
    issue = f.create_issue("A task", body, [])
    assert [i.number for i in world.fake.issues(REPO)] == [issue.number]
    assert set(issue.labels) == {"supervisor"}
    assert f.find_issue(marker("task-1")) == issue


def test_comment_and_pull_are_created_once_whatever_fails(world: World, tmp_path: Path) -> None:
    f = forge(world, tmp_path)
    issue = f.create_issue("A task", f"x\n{marker('task-2')}", [])
    world.fake.inject("reset", method="POST", path_pattern="/comments$", after=True)
    body = f"hello\n{marker('task-2', 'merged')}"
    first = f.comment(issue.number, body)
    assert f.comment(issue.number, body) == first
    assert len(world.fake.issue(REPO, issue.number).comments) == 1
    git(world.target, "checkout", "-qb", "supervisor/issue-9")
    (world.target / "done").mkdir()
    (world.target / "done" / "p.txt").write_text("p\n")
    git(world.target, "add", "-A")
    git(world.target, "commit", "-qm", "p")
    git(world.target, "push", "-q", str(world.bare), "supervisor/issue-9")
    world.fake.inject(500, method="POST", path_pattern="/pulls$", after=True)
    pull = f.create_pull("p", "body", "supervisor/issue-9", "main", draft=True)
    assert pull.draft and pull.state == "open"
    assert f.create_pull("p", "body", "supervisor/issue-9", "main", draft=True) == pull
    assert len([i for i in world.fake.issues(REPO) if i.pull is not None]) == 1


# -- the chain, end to end ----------------------------------------------------------------------


def items(home: Path) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in (home / "state" / "items").glob("*.json")}


def test_init_and_doctor_for_github(world: World) -> None:
    r = run_cli(world.home, "doctor")
    assert r.exit_code == 0, r.output
    assert "ok    github token: bot, scopes: repo" in r.stdout
    assert "ok    target: acme/widgets (default branch main, can push)" in r.stdout


def test_doctor_says_what_is_wrong_with_the_token(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_notatokennotatokennotatokennotatoken")
    r = run_cli(world.home, "doctor")
    assert r.exit_code == 1
    assert "FAIL  github token" in r.stdout and "fix: set $GITHUB_TOKEN" in r.stdout
    monkeypatch.delenv("GITHUB_TOKEN")
    r = run_cli(world.home, "doctor")
    assert "no GitHub token: set $GITHUB_TOKEN" in r.stdout


def test_the_whole_chain_on_github(world: World) -> None:
    fake = world.fake
    asked = fake.open_issue_as("maint", REPO, "Please add a file", body="Create done/from-gh.txt")
    fake.label_as("maint", REPO, asked, "ai-task")
    r = run_cli(world.home, "start", "--once")
    assert r.exit_code == 0, r.output
    now = items(world.home)
    assert {i["state"] for i in now.values()} == {"pr_open"}, r.output
    pulls = [i for i in fake.issues(REPO) if i.pull is not None]
    assert len(pulls) == 2 and all(p.pull and p.pull.draft for p in pulls)
    for item in now.values():
        pull = fake.issue(REPO, item["pull"])
        assert f"Closes #{item['issue']}." in (pull.body or "")
        assert "fast gate: `sh check.sh`: exit 0" in (pull.body or "")
        branch = f"supervisor/issue-{item['issue']}"
        assert git(world.bare, "rev-parse", branch) == item["head_sha"]
        issue = fake.issue(REPO, item["issue"])
        assert "a pull request is open" in (issue.body or "")
    person = fake.issue(REPO, asked)
    assert (person.body or "").startswith("Create done/from-gh.txt")  # the person's text kept
    # A second chain before anyone merged: nothing new, nothing duplicated.
    assert run_cli(world.home, "start", "--once").exit_code == 0
    assert len(fake.issues(REPO)) == 4
    # The maintainer approves and merges both.
    for item in now.values():
        fake.add_review(REPO, item["pull"], "maint", "APPROVED", "thanks")
        fake.mark_ready(REPO, item["pull"])
        fake.merge_as("maint", REPO, item["pull"])
    r = run_cli(world.home, "start", "--once")
    assert r.exit_code == 0, r.output
    done = items(world.home)
    assert {i["state"] for i in done.values()} == {"merged"}
    for item in done.values():
        issue = fake.issue(REPO, item["issue"])
        assert issue.state == "closed"
        assert sum("Merged in pull request" in c.body for c in issue.comments) == 1
        result = json.loads(
            (world.home / "state" / "results" / f"issue-{item['issue']}.json").read_text()
        )
        assert result["status"] == "success" and result["pr_url"].endswith(f"/{item['pull']}")
    assert "done/from-gh.txt" in git(world.bare, "ls-tree", "-r", "--name-only", "main")
    for path in (world.home / "state").rglob("*"):
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes(), path
    assert TOKEN not in (world.home / "logs" / "supervisor.log").read_text()


def test_a_pull_request_closed_without_merge_is_closed_wontfix(world: World) -> None:
    assert run_cli(world.home, "start", "--once").exit_code == 0
    [item] = items(world.home).values()
    world.fake.close_as("maint", REPO, item["pull"])
    assert run_cli(world.home, "start", "--once").exit_code == 0
    assert items(world.home)[item["id"]]["state"] == "closed_wontfix"


@pytest.mark.parametrize(
    "fault",
    [
        dict(fault=502, method="POST", path_pattern=r"/issues$", after=True),
        dict(fault="reset", method="POST", path_pattern=r"/pulls$", after=True),
        dict(fault=500, method="POST", path_pattern=r"/labels$", after=True),
        dict(fault=503, method="GET", path_pattern=r"/issues$", times=3),
        dict(fault="timeout", method="GET", path_pattern=r"/pulls/\d+$", seconds=3),
        dict(fault="secondary_rate_limit", method="POST", path_pattern=r"/pulls$", seconds=1),
        dict(fault="rate_limit_exhausted", method="PATCH", path_pattern=r"/issues/\d+$", seconds=1),
        dict(fault=502, method="PATCH", path_pattern=r"/issues/\d+$", times=6),
        dict(fault="unauthorized", method="GET", path_pattern=r"/repos/acme/widgets$"),
        dict(fault=502, method="GET", path_pattern=r"/labels/[^/]+$", times=2),
        dict(fault=500, method="GET", path_pattern=r"/issues/\d+$", times=2),
        dict(fault="timeout", method="POST", path_pattern=r"/issues$", seconds=3, after=True),
        dict(fault=502, method="GET", path_pattern=r"/comments$", times=2),
        dict(fault=502, method="POST", path_pattern=r"/comments$", after=True),
        dict(fault="timeout", method="GET", path_pattern=r"/pulls$", seconds=3),
        dict(fault="reset", method="GET", path_pattern=r"/issues$"),
    ],
    ids=lambda f: f"{f['fault']}-{f['method']}-{f['path_pattern']}",
)
def test_faults_never_duplicate_anything(world: World, fault: dict) -> None:
    world.fake.inject(**fault)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        run_cli(world.home, "start", "--once")
        states = {i["state"] for i in items(world.home).values()}
        if states == {"pr_open"}:
            break
    [item] = items(world.home).values()
    assert item["state"] == "pr_open", item["history"]
    world.fake.mark_ready(REPO, item["pull"])
    world.fake.merge_as("maint", REPO, item["pull"])
    while time.monotonic() < deadline and items(world.home)[item["id"]]["state"] != "merged":
        run_cli(world.home, "start", "--once")
    assert items(world.home)[item["id"]]["state"] == "merged"
    assert all(f.times == 0 for f in world.fake.faults.pending), "the fault was never hit"
    issues = [i for i in world.fake.issues(REPO) if i.pull is None]
    pulls = [i for i in world.fake.issues(REPO) if i.pull is not None]
    assert len(issues) == 1 and len(pulls) == 1
    assert sum("Merged in pull request" in c.body for c in issues[0].comments) == 1
    for path in (world.home / "state").rglob("*.json"):
        assert json.loads(path.read_text())["schema_version"] == 1
    assert not list((world.home / "state").rglob("*.corrupt-*"))


def test_target_must_be_owner_slash_name() -> None:
    from supervisor.github.auth import parse_target

    assert parse_target("tikv/pd") == ("tikv", "pd")
    assert parse_target("https://github.com/tikv/pd.git") == ("tikv", "pd")
    assert parse_target("git@github.com:tikv/pd.git") == ("tikv", "pd")
    with pytest.raises(UserError, match="owner/name"):
        parse_target("just-a-name")


def test_an_issue_whose_label_a_person_removed_is_still_found(world: World, tmp_path: Path) -> None:
    f = forge(world, tmp_path)
    issue = f.create_issue("A task", f"x\n\n{marker('task-77')}", [])
    world.fake.unlabel_as("maint", REPO, issue.number, "supervisor")
    assert f.find_issue(marker("task-77")) == f.get_issue(issue.number)
    assert f.find_issue(marker("task-78")) is None


def test_a_rescan_of_labelled_issues_with_nothing_new_is_a_free_304(world: World) -> None:
    asked = world.fake.open_issue_as("maint", REPO, "Please", body="Create done/x.txt")
    world.fake.label_as("maint", REPO, asked, "ai-task")
    for _ in range(3):
        assert run_cli(world.home, "start", "--once").exit_code == 0
    scans = [
        r
        for r in world.fake.requests
        if r.path == f"/repos/{REPO}/issues" and r.query.get("labels") == ["ai-task"]
    ]
    # the first chain changed the issue itself (its block), so the second scan sees a change
    assert [r.status for r in scans] == [200, 200, 304]
    cursors = json.loads((world.home / "state" / "cursors.json").read_text())
    assert cursors["etags"]["issues:acme/widgets:ai-task"]


def test_pull_request_reviews_checks_ready_and_merge(world: World, tmp_path: Path) -> None:
    f = forge(world, tmp_path)
    git(world.target, "checkout", "-qb", "supervisor/issue-5")
    (world.target / "done").mkdir()
    (world.target / "done" / "r.txt").write_text("r\n")
    git(world.target, "add", "-A")
    git(world.target, "commit", "-qm", "r")
    head = git(world.target, "rev-parse", "HEAD")
    git(world.target, "push", "-q", str(world.bare), "supervisor/issue-5")
    pull = f.create_pull("r", "first body", "supervisor/issue-5", "main", draft=True)
    f.update_pull_body(pull.number, "second body")
    assert f.get_pull(pull.number).body == "second body"
    world.fake.add_review(REPO, pull.number, "maint", "CHANGES_REQUESTED", "rename it")
    assert [r.state for r in f.list_reviews(pull.number)] == ["CHANGES_REQUESTED"]
    world.fake.add_review_comment(REPO, pull.number, "maint", "why r?", "done/r.txt", 1)
    assert [c.body for c in f.list_review_comments(pull.number)] == ["why r?"]
    world.fake.set_checks(REPO, head, [("unit", "success"), ("race", "failure")])
    world.fake.set_statuses(REPO, head, [("ci/lint", "success")])
    checks = f.checks(head)
    assert {(c["name"], c["conclusion"]) for c in checks["check_runs"]} == {
        ("unit", "success"),
        ("race", "failure"),
    }
    assert checks["state"] == "success"
    f.mark_ready(pull.number)
    assert not f.get_pull(pull.number).draft
    with pytest.raises(GitHubError):  # the head moved: never merge unverified code
        f.merge_pull(pull.number, "squash", sha="0" * 40)
    f.merge_pull(pull.number, "squash", sha=head)
    merged = f.get_pull(pull.number)
    assert merged.state == "merged" and merged.merged_sha
    issue = f.create_issue("t", f"x\n{marker('task-9')}", [])
    f.close_issue(issue.number, "wontfix")
    assert f.get_issue(issue.number).state == "closed"
    f.reopen_issue(issue.number)
    assert f.get_issue(issue.number).state == "open"


def test_the_token_can_come_from_the_gh_cli(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    bin_dir = tmp_path / "ghbin"
    bin_dir.mkdir()
    gh = bin_dir / "gh"
    gh.write_text(f'#!/bin/sh\n[ "$1 $2" = "auth token" ] && echo {TOKEN} && exit 0\nexit 1\n')
    gh.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("GITHUB_TOKEN")
    r = run_cli(world.home, "doctor")
    assert r.exit_code == 0, r.output
    assert "github token: bot" in r.stdout


def test_status_says_when_it_waits_for_the_rate_limit() -> None:
    from supervisor import status

    s = {
        "running": True,
        "pid": 42,
        "started_at": "T",
        "phase": "scan",
        "item": None,
        "heartbeat": "T",
        "waiting": {"reason": "rate limit exhausted", "until": 0.0},
        "stop_requested": False,
        "total": 0,
        "counts": {},
        "corrupt_files": [],
        "last_scan": None,
    }
    assert "waiting for GitHub: rate limit exhausted, until " in status.render(s)
