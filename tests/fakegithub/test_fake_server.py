"""The fake's HTTP behaviour: auth, pagination, ETags, rate limits, faults, 501, the contract."""

from __future__ import annotations

import gzip
import importlib.util
import json
import re
import time
from pathlib import Path

import pytest
import requests

from fakegithub.conftest import REPO, TOKEN, Client, git
from fakegithub.contract import SUBSET, contract
from fakegithub.fixture import fail_on_violations
from fakegithub.server import FakeGitHub

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT.parent / "shared" / "data" / "github-openapi" / "api.github.com.json.gz"


def links(response: requests.Response) -> dict[str, str]:
    return {rel: value["url"] for rel, value in response.links.items()}


# auth


def test_bad_token_gets_githubs_401(gh: Client) -> None:
    wrong = requests.get(f"{gh.fake.url}/user", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert wrong.json()["message"] == "Bad credentials"
    assert wrong.json()["documentation_url"].startswith("https://docs.github.com/")
    anonymous = requests.get(f"{gh.fake.url}/repos/{REPO}")
    assert anonymous.status_code == 401
    assert anonymous.json()["message"] == "Requires authentication"
    legacy = requests.get(f"{gh.fake.url}/user", headers={"Authorization": f"token {TOKEN}"})
    assert legacy.status_code == 200
    assert legacy.json()["login"] == "bot"
    assert legacy.headers["X-OAuth-Scopes"] == "repo"


def test_unknown_repository_and_issue_are_404(gh: Client) -> None:
    assert gh.get("/repos/acme/nothing").json()["message"] == "Not Found"
    assert gh.get(f"/repos/{REPO}/issues/99").status_code == 404


# pagination


def test_pagination_walks_every_page_through_the_link_header(gh: Client) -> None:
    for n in range(65):
        gh.fake.open_issue_as("bot", REPO, f"issue {n}")
    first = gh.get(f"/repos/{REPO}/issues", params={"per_page": 20, "state": "all"})
    assert len(first.json()) == 20
    assert set(links(first)) == {"next", "last"}
    assert links(first)["last"].startswith(gh.fake.url)
    assert "page=4" in links(first)["last"] and "per_page=20" in links(first)["last"]
    second = gh.get(links(first)["next"])
    assert set(links(second)) == {"prev", "next", "last", "first"}
    seen, url, pages = [], f"/repos/{REPO}/issues?per_page=20&state=all", 0
    while url:
        page = gh.get(url)
        seen += [i["number"] for i in page.json()]
        url, pages = links(page).get("next", ""), pages + 1
    assert pages == 4 and sorted(seen) == list(range(1, 66))
    assert set(links(page)) == {"prev", "first"}
    default = gh.get(f"/repos/{REPO}/issues")
    assert len(default.json()) == 30  # GitHub's default per_page
    capped = gh.get(f"/repos/{REPO}/issues", params={"per_page": 500, "page": 1})
    assert len(capped.json()) == 65 and "Link" not in capped.headers  # per_page max is 100
    gh.fake.take_violations()  # per_page=500 breaks the description's maximum (on purpose)


# ETags and rate limits


def test_etag_gives_304_that_costs_no_rate_limit(gh: Client) -> None:
    number = gh.fake.open_issue_as("bot", REPO, "cached")
    first = gh.get(f"/repos/{REPO}/issues/{number}")
    etag = first.headers["ETag"]
    again = gh.get(f"/repos/{REPO}/issues/{number}", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["ETag"] == etag
    assert again.headers["X-RateLimit-Remaining"] == first.headers["X-RateLimit-Remaining"]
    assert gh.get(f"/repos/{REPO}/issues/{number}").headers["ETag"] == etag  # stable
    gh.fake.comment_as("alice", REPO, number, "changes the issue")
    changed = gh.get(f"/repos/{REPO}/issues/{number}", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag


def test_rate_limit_headers_count_down_and_run_out(gh: Client) -> None:
    one = gh.get("/user").headers
    two = gh.get("/user").headers
    assert one["X-RateLimit-Limit"] == "5000" and one["X-RateLimit-Resource"] == "core"
    assert int(two["X-RateLimit-Remaining"]) == int(one["X-RateLimit-Remaining"]) - 1
    assert int(two["X-RateLimit-Used"]) == int(one["X-RateLimit-Used"]) + 1
    assert int(one["X-RateLimit-Reset"]) > time.time()
    search = gh.get("/search/issues", params={"q": "repo:acme/widgets x"}).headers
    assert search["X-RateLimit-Resource"] == "search" and search["X-RateLimit-Limit"] == "30"
    gh.fake.set_rate_limit(4)
    while gh.get("/user").status_code == 200:
        pass
    out = gh.get("/user")
    assert out.status_code == 403 and out.headers["X-RateLimit-Remaining"] == "0"
    assert out.json()["message"].startswith("API rate limit exceeded")
    assert gh.get("/rate_limit").json()["resources"]["core"]["remaining"] == 0
    gh.fake.advance(3601)
    assert gh.get("/user").status_code == 200


# faults


@pytest.mark.parametrize("status", [500, 502, 503])
def test_status_faults_answer_once(gh: Client, status: int) -> None:
    gh.fake.inject(status, method="GET", path_pattern=r"^/user$")
    assert gh.get(f"/repos/{REPO}").status_code == 200  # another path: untouched
    failed = gh.get("/user")
    assert failed.status_code == status and "message" in failed.json()
    assert gh.get("/user").status_code == 200


def test_fault_matches_method_and_counts_times(gh: Client) -> None:
    gh.fake.inject(502, method="POST", path_pattern=r"/issues$", times=2)
    assert gh.get(f"/repos/{REPO}/issues").status_code == 200
    codes = [gh.post(f"/repos/{REPO}/issues", json={"title": "t"}).status_code for _ in range(3)]
    assert codes == [502, 502, 201]


def test_timeout_fault_outlasts_the_client(gh: Client) -> None:
    gh.fake.inject("timeout", seconds=5)
    start = time.monotonic()
    with pytest.raises(requests.exceptions.ReadTimeout):
        gh.get("/user", timeout=0.3)
    assert time.monotonic() - start < 2
    assert gh.get("/user").status_code == 200


def test_slow_fault_delays_the_answer(gh: Client) -> None:
    gh.fake.inject("slow", seconds=0.3)
    start = time.monotonic()
    assert gh.get("/user").status_code == 200
    assert time.monotonic() - start >= 0.3


@pytest.mark.parametrize("status", [403, 429])
def test_secondary_rate_limit_fault(gh: Client, status: int) -> None:
    gh.fake.inject("secondary_rate_limit", seconds=7, status=status)
    out = gh.post(f"/repos/{REPO}/issues", json={"title": "t"})
    assert out.status_code == status and out.headers["Retry-After"] == "7"
    assert "secondary rate limit" in out.json()["message"]
    assert gh.fake.issues(REPO) == []


def test_rate_limit_exhausted_fault_resets_shortly(gh: Client) -> None:
    gh.fake.inject("rate_limit_exhausted", seconds=2)
    out = gh.get("/user")
    assert out.status_code == 403 and out.headers["X-RateLimit-Remaining"] == "0"
    assert 0 < int(out.headers["X-RateLimit-Reset"]) - time.time() <= 4
    assert gh.get("/user").status_code == 403  # still exhausted until the reset
    gh.fake.advance(5)
    assert gh.get("/user").status_code == 200


def test_unauthorized_and_reset_faults(gh: Client) -> None:
    gh.fake.inject("unauthorized")
    out = gh.get("/user")
    assert out.status_code == 401 and out.json()["message"] == "Bad credentials"
    gh.fake.inject("reset", path_pattern="/user")
    with pytest.raises(requests.exceptions.ConnectionError):
        gh.get("/user")
    assert gh.get("/user").status_code == 200


def test_unknown_fault_is_refused(fake_github: FakeGitHub) -> None:
    with pytest.raises(ValueError, match="unknown fault"):
        fake_github.inject("flood")


# collaborator permission, review replies, git refs


def test_collaborator_permission_maps_the_collaborators(gh: Client) -> None:
    gh.fake.add_user("alice", "ghp_alice")  # a GitHub user with no role on the repository

    def permission(login: str) -> tuple[str, str, str, dict[str, bool]]:
        out = gh.get(f"/repos/{REPO}/collaborators/{login}/permission")
        assert out.status_code == 200
        data = out.json()
        assert data["user"]["role_name"] == data["role_name"]
        return (
            data["permission"],
            data["role_name"],
            data["user"]["login"],
            data["user"]["permissions"],
        )

    admin = permission("acme")
    assert admin[:3] == ("admin", "admin", "acme") and all(admin[3].values())
    maintain = permission("MAINT")  # logins are case-insensitive; the answer spells it right
    assert maintain[:3] == ("write", "maintain", "maint")
    assert maintain[3] == {"admin": False} | dict.fromkeys(
        ("maintain", "push", "triage", "pull"), True
    )
    write = permission("bot")
    assert write[:3] == ("write", "write", "bot")
    assert write[3]["push"] and not write[3]["maintain"]
    read = permission("alice")
    assert read[:3] == ("read", "read", "alice")
    assert read[3] == dict.fromkeys(("admin", "maintain", "push", "triage"), False) | {"pull": True}
    assert gh.get(f"/repos/{REPO}").json()["permissions"] == write[3]  # one mapping for both

    missing = gh.get(f"/repos/{REPO}/collaborators/nobody/permission")
    assert missing.status_code == 404 and missing.json()["message"] == "nobody is not a user"
    gh.fake.add_repo("acme", "secret", private=True, collaborators={"bot": "COLLABORATOR"})
    none = gh.get("/repos/acme/secret/collaborators/alice/permission").json()
    assert (none["permission"], none["role_name"]) == ("none", "none")
    assert not any(none["user"]["permissions"].values())


def test_reply_to_a_review_comment_joins_its_thread(gh: Client) -> None:
    number = gh.fake.open_pull_as("bot", REPO, "fix", "Fix the widget")
    other = gh.fake.open_pull_as("bot", REPO, "clash", "Clash")
    first = gh.fake.add_review_comment(REPO, number, "maint", "why?", path="fix.txt", line=1)
    elsewhere = gh.fake.add_review_comment(REPO, other, "maint", "and here?")
    made = gh.post(
        f"/repos/{REPO}/pulls/{number}/comments/{first}/replies", json={"body": "because"}
    )
    assert made.status_code == 201
    reply = made.json()
    assert reply["in_reply_to_id"] == first and reply["body"] == "because"
    assert reply["user"]["login"] == "bot" and reply["author_association"] == "COLLABORATOR"
    assert made.headers["Location"] == reply["url"]
    thread = gh.get(f"/repos/{REPO}/pulls/{number}/comments").json()
    assert [c["id"] for c in thread] == [first, reply["id"]]
    assert "in_reply_to_id" not in thread[0]  # GitHub leaves it out of a thread's first comment
    for key in ("path", "line", "commit_id"):
        assert thread[1][key] == thread[0][key]
    reviews = gh.get(f"/repos/{REPO}/pulls/{number}/reviews").json()
    assert [(r["id"], r["state"], r["user"]["login"]) for r in reviews] == [
        (reply["pull_request_review_id"], "COMMENTED", "bot")
    ]

    def reply_to(comment_id: int) -> requests.Response:
        path = f"/repos/{REPO}/pulls/{number}/comments/{comment_id}/replies"
        return gh.post(path, json={"body": "x"})

    assert reply_to(elsewhere).status_code == 404  # a comment on another pull request
    assert reply_to(9999).status_code == 404
    nested = reply_to(reply["id"])
    assert nested.status_code == 501 and "reply to a reply" in nested.json()["message"]
    empty = gh.post(f"/repos/{REPO}/pulls/{number}/comments/{first}/replies", json={})
    assert empty.status_code == 422 and empty.json()["errors"][0]["field"] == "body"
    assert len(gh.fake.take_violations()) == 2  # no body breaks the request schema; 422 unlisted
    later = gh.fake.reply_to_review_comment_as("maint", REPO, number, first, "I see")
    last = gh.get(f"/repos/{REPO}/pulls/{number}/comments").json()[-1]
    assert (last["id"], last["in_reply_to_id"], last["user"]["login"]) == (later, first, "maint")


def test_delete_a_branch_whose_name_has_slashes(gh: Client) -> None:
    git_dir = gh.fake.repo(REPO).git_dir
    assert git_dir is not None
    git(git_dir, "branch", "supervisor/issue-3", "fix")
    git(git_dir, "branch", "supervisor/issue-4", "fix")
    number = gh.fake.open_pull_as("bot", REPO, "supervisor/issue-3", "Fix #3")
    checks = gh.get(f"/repos/{REPO}/commits/supervisor/issue-3/check-runs")
    assert checks.status_code == 200  # a commit ref spans segments there too

    gone = gh.call("DELETE", f"/repos/{REPO}/git/refs/heads/supervisor/issue-3")
    assert gone.status_code == 204 and gone.content == b""
    assert gh.fake.branch_sha(REPO, "supervisor/issue-3") is None
    assert gh.fake.branch_sha(REPO, "fix") is not None
    pull = gh.get(f"/repos/{REPO}/pulls/{number}").json()  # GitHub closes it, unmerged
    assert pull["state"] == "closed" and pull["merged"] is False

    again = gh.call("DELETE", f"/repos/{REPO}/git/refs/heads/supervisor/issue-3")
    assert again.status_code == 422 and again.json()["message"] == "Reference does not exist"
    bare = gh.call("DELETE", f"/repos/{REPO}/git/refs/supervisor/issue-4")  # no heads/
    assert bare.status_code == 422 and bare.json()["message"] == "Reference does not exist"
    main = gh.call("DELETE", f"/repos/{REPO}/git/refs/heads/main")
    assert main.status_code == 422 and main.json()["message"] == "Cannot delete the default branch"
    encoded = gh.call("DELETE", f"/repos/{REPO}/git/refs/heads%2Fsupervisor%2Fissue-4")
    assert encoded.status_code == 204 and gh.fake.branch_sha(REPO, "supervisor/issue-4") is None

    gh.fake.add_user("alice", "ghp_alice")
    refused = gh.call(
        "DELETE",
        f"/repos/{REPO}/git/refs/heads/fix",
        headers={"Authorization": "Bearer ghp_alice"},
    )
    assert refused.status_code == 403 and gh.fake.branch_sha(REPO, "fix") is not None


def test_deleting_a_merged_head_retargets_the_pulls_on_it(gh: Client) -> None:
    git_dir = gh.fake.repo(REPO).git_dir
    assert git_dir is not None
    work = git_dir.parent / "stack"
    git(git_dir.parent, "clone", "-q", "-b", "fix", str(git_dir), str(work))
    (work / "more.txt").write_text("more\n")
    git(work, "add", "-A")
    git(work, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "More")
    git(work, "push", "-q", "origin", "HEAD:stacked")
    lower = gh.fake.open_pull_as("bot", REPO, "fix", "Fix")
    upper = gh.fake.open_pull_as("bot", REPO, "stacked", "More", base="fix")
    gh.fake.merge_as("maint", REPO, lower)
    gh.fake.delete_branch_as("maint", REPO, "fix")
    moved = gh.get(f"/repos/{REPO}/pulls/{upper}").json()
    assert moved["state"] == "open" and moved["base"]["ref"] == "main"
    with pytest.raises(ValueError, match="Reference does not exist"):
        gh.fake.delete_branch_as("maint", REPO, "fix")


# 501, recording


def test_unimplemented_endpoint_is_501_naming_it(gh: Client) -> None:
    out = gh.call("DELETE", f"/repos/{REPO}")
    assert out.status_code == 501
    assert f"DELETE /repos/{REPO}" in out.json()["message"]
    assert any("not in GitHub's description" in v for v in gh.fake.take_violations())
    refused = gh.get(f"/repos/{REPO}/issues", params={"milestone": "1"})
    assert refused.status_code == 501 and "'milestone'" in refused.json()["message"]


def test_requests_are_recorded(gh: Client) -> None:
    gh.post(f"/repos/{REPO}/issues", params={"x": "1"}, json={"title": "recorded"})
    last = gh.fake.requests[-1]
    assert (last.method, last.path, last.query) == ("POST", f"/repos/{REPO}/issues", {"x": ["1"]})
    assert last.json() == {"title": "recorded"} and last.status == 201
    assert last.header("authorization") == f"Bearer {TOKEN}"


# the contract checker


def test_contract_catches_an_invalid_request(gh: Client) -> None:
    # GitHub's description allows a number as a title (oneOf string / integer); a list is wrong.
    assert gh.post(f"/repos/{REPO}/issues", json={"title": 42}).json()["title"] == "42"
    assert gh.fake.take_violations() == []
    gh.post(f"/repos/{REPO}/issues", json={"title": ["not", "a", "title"]})
    gh.get(f"/repos/{REPO}/issues", params={"state": "sideways"})
    found = gh.fake.take_violations()
    assert len(found) == 2
    assert "request POST /repos/acme/widgets/issues" in found[0] and "$.title" in found[0]
    assert "state" in found[1] and "sideways" in found[1]


def test_contract_catches_an_invalid_response(gh: Client) -> None:
    number = gh.fake.open_issue_as("bot", REPO, "about to be broken")
    gh.fake.corrupt_issue(REPO, number, "title")
    assert "title" not in gh.get(f"/repos/{REPO}/issues/{number}").json()
    found = gh.fake.take_violations()
    assert len(found) == 1
    assert f"response 200 to GET /repos/{REPO}/issues/{number}" in found[0]
    assert "'title' is a required property" in found[0]


def test_fixture_fails_a_test_with_violations(fake_github: FakeGitHub) -> None:
    fake_github.violations.append("response 200 to GET /x: something")
    with pytest.raises(pytest.fail.Exception, match="1 contract violation"):
        fail_on_violations(fake_github)
    fake_github.take_violations()


def test_errors_have_githubs_shape(gh: Client) -> None:
    out = gh.post(f"/repos/{REPO}/issues", json={"body": "no title"})
    assert out.status_code == 422
    assert out.json()["message"] == "Validation Failed"
    assert out.json()["errors"] == [
        {"resource": "Issue", "code": "missing_field", "field": "title"}
    ]
    gh.fake.take_violations()  # a body without title breaks the request schema too


def test_the_description_is_compiled_once() -> None:
    assert contract() is contract()
    assert re.search(r"api\.github\.com", contract().spec["servers"][0]["url"])


@pytest.mark.skipif(not SOURCE.exists(), reason="../shared/data/github-openapi is not here")
def test_vendored_subset_is_a_fresh_trim() -> None:
    loader = importlib.util.spec_from_file_location(
        "trim_openapi", ROOT / "scripts/trim_openapi.py"
    )
    assert loader is not None and loader.loader is not None
    trim_openapi = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(trim_openapi)
    fresh = trim_openapi.render(trim_openapi.trim(trim_openapi.load(SOURCE)))
    # Compare the JSON, not the gzip bytes: another zlib may compress the same text differently.
    vendored = gzip.decompress(SUBSET.read_bytes())
    assert vendored == gzip.decompress(fresh), "run: python scripts/trim_openapi.py"
    assert len(fresh) < 200_000
    paths = json.loads(gzip.decompress(fresh))["paths"]
    kept = {(path, m) for path, item in paths.items() for m in item if m != "parameters"}
    wanted = {(p, m) for p, methods in trim_openapi.OPERATIONS.items() for m in methods}
    assert kept == wanted
