"""The fake's GitHub behaviour: issues, comments, labels, search, pulls, merges, checks, actions."""

from __future__ import annotations

from pathlib import Path

from fakegithub.conftest import REPO, Client, git
from fakegithub.state import iso


def test_comment_author_association_follows_the_collaborators(gh: Client) -> None:
    number = gh.fake.open_issue_as("bot", REPO, "who speaks")
    for login in ("acme", "maint", "bot", "stranger"):
        gh.fake.comment_as(login, REPO, number, f"from {login}")
    comments = gh.get(f"/repos/{REPO}/issues/{number}/comments").json()
    assert [(c["user"]["login"], c["author_association"]) for c in comments] == [
        ("acme", "OWNER"),
        ("maint", "MEMBER"),
        ("bot", "COLLABORATOR"),
        ("stranger", "NONE"),
    ]


def test_comments_since_and_edit(gh: Client) -> None:
    number = gh.fake.open_issue_as("bot", REPO, "watermark")
    gh.fake.comment_as("alice", REPO, number, "old")
    gh.fake.advance(10)
    mark = iso(gh.fake.world.clock.stamp())
    gh.fake.advance(10)
    created = gh.post(f"/repos/{REPO}/issues/{number}/comments", json={"body": "new"})
    assert created.status_code == 201 and created.json()["author_association"] == "COLLABORATOR"
    assert created.json()["created_at"].endswith("Z")
    newer = gh.get(f"/repos/{REPO}/issues/{number}/comments", params={"since": mark}).json()
    assert [c["body"] for c in newer] == ["new"]
    url = f"/repos/{REPO}/issues/comments/{created.json()['id']}"
    assert gh.call("PATCH", url, json={"body": "edited"}).json()["body"] == "edited"


def test_issues_list_filters(gh: Client) -> None:
    a = gh.fake.open_issue_as("bot", REPO, "a", labels=["ai-task"])
    gh.fake.open_issue_as("alice", REPO, "b")
    gh.fake.close_as("acme", REPO, a)

    def numbers(**params: str) -> list[int]:
        return [i["number"] for i in gh.get(f"/repos/{REPO}/issues", params=params).json()]

    assert numbers() == [2]
    assert numbers(state="all") == [2, 1]
    assert numbers(state="all", labels="AI-Task") == [1]
    assert numbers(state="all", creator="alice") == [2]
    closed = gh.get(f"/repos/{REPO}/issues/{a}").json()
    assert closed["state_reason"] == "completed" and closed["closed_by"]["login"] == "acme"


def test_labels_are_created_on_use_with_labeled_events(gh: Client) -> None:
    number = gh.fake.open_issue_as("alice", REPO, "label me")
    assert gh.get(f"/repos/{REPO}/labels/ai-task").status_code == 404
    added = gh.post(f"/repos/{REPO}/issues/{number}/labels", json={"labels": ["ai-task"]})
    assert [label["name"] for label in added.json()] == ["ai-task"]
    assert gh.get(f"/repos/{REPO}/labels/ai-task").json()["name"] == "ai-task"
    gh.fake.label_as("maint", REPO, number, "approved")
    events = gh.get(f"/repos/{REPO}/issues/{number}/events").json()
    assert [(e["event"], e["label"]["name"], e["actor"]["login"]) for e in events] == [
        ("labeled", "ai-task", "bot"),
        ("labeled", "approved", "maint"),
    ]
    created = gh.post(f"/repos/{REPO}/labels", json={"name": "flaky", "color": "ff0000"})
    assert created.status_code == 201
    again = gh.post(f"/repos/{REPO}/labels", json={"name": "Flaky"})
    assert again.status_code == 422 and again.json()["errors"][0]["code"] == "already_exists"


def test_search_finds_a_hidden_marker(gh: Client) -> None:
    gh.fake.open_issue_as("bot", REPO, "Flaky test", body="text\n<!-- supervisor:item=abc123 -->")
    gh.fake.open_issue_as("bot", REPO, "Other", body="nothing")
    q = 'repo:acme/widgets is:issue "supervisor:item=abc123"'
    found = gh.get("/search/issues", params={"q": q}).json()
    assert found["total_count"] == 1 and found["items"][0]["title"] == "Flaky test"
    assert gh.get("/search/issues", params={"q": "repo:acme/widgets is:pr x"}).json()["items"] == []
    assert gh.get("/search/issues", params={"q": "-label:x"}).status_code == 501


def test_pull_request_lifecycle_and_shared_numbers(gh: Client, bare_repo: Path) -> None:
    issue = gh.fake.open_issue_as("bot", REPO, "first an issue")
    body = {"title": "Fix", "head": "fix", "base": "main", "body": "Closes #1", "draft": True}
    created = gh.post(f"/repos/{REPO}/pulls", json=body)
    assert created.status_code == 201
    pull = created.json()
    assert pull["number"] == issue + 1 and pull["draft"] is True
    assert pull["head"]["sha"] == git(bare_repo, "rev-parse", "fix")
    assert pull["head"]["repo"]["clone_url"] == str(bare_repo)
    assert (pull["commits"], pull["changed_files"]) == (1, 1)
    duplicate = gh.post(f"/repos/{REPO}/pulls", json=body)
    assert duplicate.status_code == 422 and "already exists" in str(duplicate.json())
    missing = gh.post(f"/repos/{REPO}/pulls", json={**body, "head": "nope"})
    assert missing.status_code == 422
    listed = gh.get(f"/repos/{REPO}/pulls", params={"head": "acme:fix"}).json()
    assert [p["number"] for p in listed] == [pull["number"]]
    patched = gh.call("PATCH", f"/repos/{REPO}/pulls/{pull['number']}", json={"title": "Fix it"})
    assert patched.json()["title"] == "Fix it"
    gh.fake.add_review(REPO, pull["number"], "maint", "CHANGES_REQUESTED", "please test")
    gh.fake.add_review_comment(REPO, pull["number"], "maint", "nit", path="fix.txt")
    reviews = gh.get(f"/repos/{REPO}/pulls/{pull['number']}/reviews").json()
    assert [(r["state"], r["author_association"]) for r in reviews] == [
        ("CHANGES_REQUESTED", "MEMBER")
    ]
    comments = gh.get(f"/repos/{REPO}/pulls/{pull['number']}/comments").json()
    assert [(c["path"], c["body"]) for c in comments] == [("fix.txt", "nit")]
    draft = gh.call("PUT", f"/repos/{REPO}/pulls/{pull['number']}/merge")
    assert draft.status_code == 405


def test_merge_as_moves_the_base_branch_in_the_bare_repo(gh: Client, bare_repo: Path) -> None:
    before, head = git(bare_repo, "rev-parse", "main"), git(bare_repo, "rev-parse", "fix")
    number = gh.fake.open_pull_as("bot", REPO, "fix", "Fix")
    sha = gh.fake.merge_as("maint", REPO, number)
    assert git(bare_repo, "rev-parse", "main") == sha != before
    assert git(bare_repo, "rev-parse", f"{sha}^1", f"{sha}^2").split() == [before, head]
    assert git(bare_repo, "show", f"{sha}:fix.txt") == "fixed"
    pull = gh.get(f"/repos/{REPO}/pulls/{number}").json()
    assert pull["merged"] is True and pull["state"] == "closed"
    assert pull["merge_commit_sha"] == sha and pull["merged_by"]["login"] == "maint"
    assert pull["merged_at"].endswith("Z") and pull["commits"] == 1
    listed = gh.get(f"/repos/{REPO}/issues/{number}").json()
    assert listed["pull_request"]["merged_at"] == pull["merged_at"]


def test_merge_through_the_api(gh: Client, bare_repo: Path) -> None:
    number = gh.fake.open_pull_as("bot", REPO, "fix", "Fix")
    stale = gh.call("PUT", f"/repos/{REPO}/pulls/{number}/merge", json={"sha": "0" * 40})
    assert stale.status_code == 409
    merged = gh.call("PUT", f"/repos/{REPO}/pulls/{number}/merge", json={"merge_method": "squash"})
    assert merged.status_code == 200 and merged.json()["merged"] is True
    sha = merged.json()["sha"]
    assert git(bare_repo, "rev-parse", "main") == sha
    assert git(bare_repo, "rev-list", "--count", "--parents", "-1", sha) == "1"
    again = gh.call("PUT", f"/repos/{REPO}/pulls/{number}/merge")
    assert again.status_code == 405
    clash = gh.fake.open_pull_as("bot", REPO, "clash", "Clash")
    dirty = gh.get(f"/repos/{REPO}/pulls/{clash}").json()
    assert (dirty["mergeable"], dirty["mergeable_state"]) == (False, "dirty")
    conflict = gh.call("PUT", f"/repos/{REPO}/pulls/{clash}/merge")
    assert conflict.status_code == 405 and conflict.json()["message"].endswith("not mergeable")
    gh.fake.close_as("acme", REPO, clash)
    closed = gh.get(f"/repos/{REPO}/pulls/{clash}").json()
    assert (closed["state"], closed["merged"]) == ("closed", False)


def test_checks_and_combined_status(gh: Client, bare_repo: Path) -> None:
    sha = git(bare_repo, "rev-parse", "fix")
    status = gh.get(f"/repos/{REPO}/commits/fix/status").json()
    assert (status["state"], status["total_count"]) == ("pending", 0)
    gh.fake.set_checks(REPO, sha, [("unit", "success"), ("lint", "failure"), ("slow", None)])
    gh.fake.set_statuses(REPO, sha, [("ci/legacy", "success")])
    runs = gh.get(f"/repos/{REPO}/commits/fix/check-runs").json()
    assert runs["total_count"] == 3
    assert [(r["name"], r["status"], r["conclusion"]) for r in runs["check_runs"]] == [
        ("unit", "completed", "success"),
        ("lint", "completed", "failure"),
        ("slow", "in_progress", None),
    ]
    assert gh.get(f"/repos/{REPO}/commits/{sha}/status").json()["state"] == "success"
    assert gh.get(f"/repos/{REPO}/commits/no-such-ref/status").status_code == 404


def test_workflow_runs_jobs_attempts_and_log_redirect(gh: Client, bare_repo: Path) -> None:
    sha = git(bare_repo, "rev-parse", "main")
    old = gh.fake.add_workflow_run(REPO, sha, conclusion="success")
    gh.fake.advance(60)
    run = gh.fake.add_workflow_run(REPO, sha, conclusion="failure")
    gh.fake.add_job(REPO, run, "test", log="--- FAIL: TestFlaky (0.01s)\n")
    gh.fake.add_attempt(REPO, run, conclusion="success")
    job = gh.fake.add_job(REPO, run, "test", conclusion="success", log="ok\n")
    runs = gh.get(f"/repos/{REPO}/actions/workflows/ci.yml/runs", params={"status": "failure"})
    assert [r["id"] for r in runs.json()["workflow_runs"]] == []  # the latest attempt passed
    every = gh.get(f"/repos/{REPO}/actions/workflows/ci.yml/runs").json()
    assert [r["id"] for r in every["workflow_runs"]] == [run, old]
    assert every["workflow_runs"][0]["head_commit"]["message"] == "Main moves on"
    since = {"created": ">=" + every["workflow_runs"][0]["created_at"]}
    recent = gh.get(f"/repos/{REPO}/actions/workflows/ci.yml/runs", params=since).json()
    assert [r["id"] for r in recent["workflow_runs"]] == [run]
    latest = gh.get(f"/repos/{REPO}/actions/runs/{run}/jobs").json()["jobs"]
    assert [(j["id"], j["run_attempt"]) for j in latest] == [(job, 2)]
    everything = gh.get(f"/repos/{REPO}/actions/runs/{run}/jobs", params={"filter": "all"})
    assert everything.json()["total_count"] == 2
    first = gh.get(f"/repos/{REPO}/actions/runs/{run}/attempts/1/jobs").json()["jobs"]
    assert [j["conclusion"] for j in first] == ["failure"]
    logs = gh.get(f"/repos/{REPO}/actions/jobs/{first[0]['id']}/logs", allow_redirects=False)
    assert logs.status_code == 302
    location = logs.headers["Location"]
    assert location.startswith(gh.fake.url) and "/_blobs/" in location
    text = gh.get(location, headers={"Authorization": ""})
    assert text.text == "--- FAIL: TestFlaky (0.01s)\n"
    gh.fake.inject(503, path_pattern="^/_blobs/")
    assert gh.get(location).status_code == 503
    gh.fake.advance(120)
    assert gh.get(location).status_code == 403  # the short-lived link has expired
