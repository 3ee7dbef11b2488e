"""The workspace (mirror, issue worktrees, gate worktree) and landing, on real git repositories."""

from __future__ import annotations

import logging
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import git, init_home, make_target

from supervisor import land
from supervisor.config import load_config
from supervisor.errors import UserError
from supervisor.home import Home
from supervisor.ids import IssueNumber, Sha
from supervisor.workspace import Workspace


def workspace(home: Path) -> Workspace:
    return Workspace(Home(home), load_config(home / "supervisor.yaml"))


def set_copy_files(home: Path, names: str) -> None:
    config = home / "supervisor.yaml"
    text = config.read_text()
    assert "copy_files: []" in text
    config.write_text(text.replace("copy_files: []", f"copy_files: {names}"))


def commit_file(repo: Path, name: str, text: str, message: str | None = None) -> Sha:
    (repo / name).parent.mkdir(parents=True, exist_ok=True)
    (repo / name).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", message or f"write {name}")
    return Sha(git(repo, "rev-parse", "HEAD"))


def branches(repo: Path) -> list[str]:
    return git(repo, "for-each-ref", "--format=%(refname:short)", "refs/heads/").splitlines()


def worktree_paths(mirror: Path) -> list[Path]:
    out = git(mirror, "worktree", "list", "--porcelain")
    return [
        Path(line.split(" ", 1)[1]) for line in out.splitlines() if line.startswith("worktree ")
    ]


def has_object(repo: Path, sha: str) -> bool:
    r = subprocess.run(["git", "-C", str(repo), "cat-file", "-e", f"{sha}^{{commit}}"])
    return r.returncode == 0


@pytest.fixture
def ws(home: Path) -> Workspace:
    w = workspace(home)
    w.ensure_mirror(fetch=False)
    return w


# -- the mirror ---------------------------------------------------------------------------------


def test_ensure_mirror_clones_a_bare_mirror_without_supervisor_branches(
    home: Path, target: Path
) -> None:
    w = workspace(home)
    assert not w.mirror.exists()
    w.ensure_mirror(fetch=True)
    assert w.mirror == home / "worktrees" / "mirror.git"
    assert git(w.mirror, "rev-parse", "--is-bare-repository") == "true"
    assert git(w.mirror, "rev-parse", "refs/heads/main") == git(target, "rev-parse", "main")
    assert git(w.mirror, "config", "--get-all", "remote.origin.fetch").splitlines() == [
        "+refs/heads/*:refs/heads/*",
        "^refs/heads/supervisor/*",
        "+refs/tags/*:refs/tags/*",
    ]
    assert w.base_branch == "main"
    assert w.base_sha() == git(target, "rev-parse", "main")
    assert not (home / "worktrees" / "mirror.git.partial").exists()


def test_fetch_takes_new_commits_but_never_touches_supervisor_branches(
    ws: Workspace, target: Path
) -> None:
    base = ws.base_sha()
    # Our own branch in the mirror, checked out in an issue worktree, with a commit of its own.
    wt = ws.issue_worktree(IssueNumber(9), base)
    ours = commit_file(wt, "done/ours.txt", "ours\n")
    # Meanwhile the target gets a branch of the same name and a new commit on main.
    git(target, "checkout", "-q", "-b", "supervisor/issue-9")
    theirs = commit_file(target, "done/theirs.txt", "theirs\n")
    git(target, "checkout", "-q", "main")
    new_main = commit_file(target, "README", "moved on\n")

    ws.ensure_mirror(fetch=True)

    assert git(ws.mirror, "rev-parse", "refs/heads/main") == new_main
    assert ws.base_sha() == new_main
    assert git(ws.mirror, "rev-parse", "refs/heads/supervisor/issue-9") == ours
    assert not has_object(ws.mirror, theirs)
    assert git(wt, "rev-parse", "HEAD") == ours
    assert git(wt, "symbolic-ref", "--short", "HEAD") == "supervisor/issue-9"
    assert git(wt, "status", "--porcelain") == ""
    assert (wt / "done" / "ours.txt").read_text() == "ours\n"


def test_a_leftover_partial_clone_is_replaced(home: Path, target: Path) -> None:
    partial = home / "worktrees" / "mirror.git.partial"
    partial.mkdir(parents=True)
    (partial / "HEAD").write_text("garbage from a killed clone\n")
    (partial / "objects").mkdir()
    w = workspace(home)
    w.ensure_mirror(fetch=True)
    assert not partial.exists()
    assert git(w.mirror, "rev-parse", "refs/heads/main") == git(target, "rev-parse", "main")
    assert git(w.mirror, "fsck", "--no-progress") == ""


# -- issue worktrees ----------------------------------------------------------------------------


def test_issue_worktree_is_created_on_its_branch_at_the_given_sha(ws: Workspace) -> None:
    base = ws.base_sha()
    wt = ws.issue_worktree(IssueNumber(1), base)
    assert wt == ws.home.root / "worktrees" / "issue-1"
    assert git(wt, "symbolic-ref", "--short", "HEAD") == "supervisor/issue-1"
    assert git(wt, "rev-parse", "HEAD") == base
    assert (wt / "tasks.md").is_file() and git(wt, "status", "--porcelain") == ""
    assert wt in worktree_paths(ws.mirror)


def test_issue_worktree_is_reused_with_its_uncommitted_work(ws: Workspace, target: Path) -> None:
    base = ws.base_sha()
    wt = ws.issue_worktree(IssueNumber(2), base)
    (wt / "work.txt").write_text("in progress\n")
    other_base = commit_file(target, "README", "new\n")
    ws.ensure_mirror(fetch=True)
    again = ws.issue_worktree(IssueNumber(2), other_base)
    assert again == wt
    assert (wt / "work.txt").read_text() == "in progress\n"
    assert git(wt, "rev-parse", "HEAD") == base  # an existing worktree is not moved
    assert git(wt, "status", "--porcelain") == "?? work.txt"


def test_a_worktree_deleted_by_hand_is_recreated_on_its_branch(ws: Workspace) -> None:
    base = ws.base_sha()
    wt = ws.issue_worktree(IssueNumber(3), base)
    head = commit_file(wt, "done/three.txt", "three\n")
    shutil.rmtree(wt)  # git still has the worktree registered
    again = ws.issue_worktree(IssueNumber(3), base)
    assert again == wt
    assert git(wt, "symbolic-ref", "--short", "HEAD") == "supervisor/issue-3"
    assert git(wt, "rev-parse", "HEAD") == head  # its commit kept, not reset to base
    assert (wt / "done" / "three.txt").read_text() == "three\n"
    assert worktree_paths(ws.mirror).count(wt) == 1


def test_a_leftover_plain_folder_is_replaced_by_a_worktree(ws: Workspace) -> None:
    leftover = ws.home.root / "worktrees" / "issue-4"
    leftover.mkdir(parents=True)
    (leftover / "junk.txt").write_text("left by an interrupted worktree add\n")
    base = ws.base_sha()
    wt = ws.issue_worktree(IssueNumber(4), base)
    assert wt == leftover
    assert (wt / ".git").is_file()
    assert not (wt / "junk.txt").exists()
    assert git(wt, "symbolic-ref", "--short", "HEAD") == "supervisor/issue-4"
    assert git(wt, "rev-parse", "HEAD") == base


def test_remove_issue_worktree_removes_the_folder_and_the_branch(ws: Workspace) -> None:
    wt = ws.issue_worktree(IssueNumber(5), ws.base_sha())
    commit_file(wt, "done/five.txt", "five\n")
    (wt / "untracked.txt").write_text("x\n")
    assert "supervisor/issue-5" in branches(ws.mirror)
    ws.remove_issue_worktree(IssueNumber(5))
    assert not wt.exists()
    assert "supervisor/issue-5" not in branches(ws.mirror)
    assert wt not in worktree_paths(ws.mirror)
    assert branches(ws.mirror) == ["main"]


def test_remove_issue_worktree_can_keep_the_branch(ws: Workspace) -> None:
    wt = ws.issue_worktree(IssueNumber(6), ws.base_sha())
    head = commit_file(wt, "done/six.txt", "six\n")
    ws.remove_issue_worktree(IssueNumber(6), delete_branch=False)
    assert not wt.exists()
    assert git(ws.mirror, "rev-parse", "refs/heads/supervisor/issue-6") == head


# -- the gate worktree --------------------------------------------------------------------------


@pytest.fixture
def gated(tmp_path: Path) -> Workspace:
    target = make_target(tmp_path / "gt", ["Create done/a.txt"], {".gitignore": "build/\n"})
    w = workspace(init_home(tmp_path / "gh", target))
    w.ensure_mirror(fetch=False)
    return w


def test_gate_is_detached_at_exactly_the_candidate(gated: Workspace) -> None:
    base = gated.base_sha()
    wt = gated.issue_worktree(IssueNumber(1), base)
    first = commit_file(wt, "done/a.txt", "a\n")
    head = commit_file(wt, "done/b.txt", "b\n")
    gate = gated.gate_checkout(base, head)
    assert gate == gated.home.root / "worktrees" / "gate"
    assert git(gate, "rev-parse", "HEAD") == head
    assert git(gate, "rev-list", "--first-parent", "HEAD").splitlines() == [head, first, base]
    detached = subprocess.run(["git", "-C", str(gate), "symbolic-ref", "-q", "HEAD"])
    assert detached.returncode == 1
    assert git(gate, "status", "--porcelain", "--ignored") == ""
    assert (gate / "done" / "b.txt").read_text() == "b\n"
    # No head, or head == base: the gate sits at base.
    assert git(gated.gate_checkout(base), "rev-parse", "HEAD") == base
    assert git(gated.gate_checkout(base, base), "rev-parse", "HEAD") == base


def test_gate_removes_untracked_ignored_and_modified_files(gated: Workspace) -> None:
    base = gated.base_sha()
    gate = gated.gate_checkout(base)
    (gate / "stray.txt").write_text("left by a gate command\n")
    (gate / "build").mkdir()
    (gate / "build" / "out.o").write_text("ignored build output\n")
    (gate / "tasks.md").write_text("changed by a gate command\n")
    head = commit_file(gated.issue_worktree(IssueNumber(1), base), "done/a.txt", "a\n")
    gate = gated.gate_checkout(base, head)
    assert not (gate / "stray.txt").exists()
    assert not (gate / "build").exists()
    assert (gate / "tasks.md").read_text() == (gated.cfg.target_path() / "tasks.md").read_text()
    assert git(gate, "status", "--porcelain", "--ignored") == ""
    assert git(gate, "rev-parse", "HEAD") == head


def test_a_gate_folder_deleted_by_hand_is_recreated(gated: Workspace) -> None:
    base = gated.base_sha()
    gate = gated.gate_checkout(base)
    shutil.rmtree(gate)  # git still has the gate registered
    head = commit_file(gated.issue_worktree(IssueNumber(1), base), "done/a.txt", "a\n")
    assert gated.gate_checkout(base, head) == gate
    assert git(gate, "rev-parse", "HEAD") == head
    assert worktree_paths(gated.mirror).count(gate) == 1
    # A plain folder where the gate should be is replaced too.
    shutil.rmtree(gate)
    gate.mkdir()
    (gate / "junk.txt").write_text("junk\n")
    assert gated.gate_checkout(base) == gate
    assert not (gate / "junk.txt").exists()
    assert git(gate, "rev-parse", "HEAD") == base


def test_gate_refuses_a_candidate_that_does_not_descend_from_base(gated: Workspace) -> None:
    old_base = gated.base_sha()
    head = commit_file(gated.issue_worktree(IssueNumber(1), old_base), "done/a.txt", "a\n")
    target = gated.cfg.target_path()
    new_base = commit_file(target, "README", "moved\n")
    gated.ensure_mirror(fetch=True)
    with pytest.raises(UserError) as e:
        gated.gate_checkout(new_base, head)
    assert str(e.value) == (
        f"candidate {head[:12]} does not descend from base {new_base[:12]}: "
        "it must be rebased before it is verified"
    )
    assert git(gated.home.gate, "rev-parse", "HEAD") == new_base


def test_copy_files_copies_untracked_files_into_worktrees_and_the_gate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(logging.getLogger("supervisor"), "propagate", True)
    target = make_target(tmp_path / "t", ["Create done/a.txt"], {".gitignore": ".env\n"})
    (target / ".env").write_text("API_URL=http://localhost\n")
    home = init_home(tmp_path / "h", target)
    set_copy_files(home, "[.env, config/missing.yaml]")
    w = workspace(home)
    assert w.cfg.workspace.copy_files == [".env", "config/missing.yaml"]
    w.ensure_mirror()
    with caplog.at_level(logging.WARNING, logger="supervisor.workspace"):
        wt = w.issue_worktree(IssueNumber(1), w.base_sha())
        gate = w.gate_checkout(w.base_sha())
    for where in (wt, gate):
        assert (where / ".env").read_text() == "API_URL=http://localhost\n"
        assert not (where / "config").exists()
    missing = target.resolve() / "config" / "missing.yaml"
    warnings = [r.getMessage() for r in caplog.records if r.name == "supervisor.workspace"]
    assert (
        warnings
        == [f"workspace.copy_files: {missing} does not exist in the target; not copied"] * 2
    )
    assert all(
        r.levelno == logging.WARNING for r in caplog.records if r.name == "supervisor.workspace"
    )
    # The copy is ignored in the target, so the worker's commit never picks it up.
    assert git(wt, "status", "--porcelain") == ""


# -- stale locks --------------------------------------------------------------------------------


def test_remove_stale_locks_in_the_mirror_and_its_worktrees(ws: Workspace, target: Path) -> None:
    wt = ws.issue_worktree(IssueNumber(1), ws.base_sha())
    locks = [
        ws.mirror / "worktrees" / "issue-1" / "index.lock",
        ws.mirror / "refs" / "heads" / "main.lock",
        ws.mirror / "packed-refs.lock",
    ]
    for lock in locks:
        lock.write_text("")
    keep = ws.mirror / "objects" / "pack" / "tmp.lock"
    keep.write_text("")
    target_lock = target / ".git" / "index.lock"
    target_lock.write_text("")
    # git refuses to work while the locks are there...
    blocked = subprocess.run(["git", "-C", str(wt), "add", "tasks.md"], capture_output=True)
    assert blocked.returncode != 0 and b"index.lock" in blocked.stderr
    assert sorted(ws.remove_stale_locks()) == sorted(locks)
    assert not any(lock.exists() for lock in locks)
    assert keep.exists()  # objects/ is left alone
    assert target_lock.exists()  # the target is never touched
    # ...and works again once they are gone.
    commit_file(wt, "done/a.txt", "a\n")
    target_lock.unlink()
    new_main = commit_file(target, "README", "x\n")
    ws.ensure_mirror(fetch=True)
    assert ws.base_sha() == new_main
    assert ws.remove_stale_locks() == []


# -- landing ------------------------------------------------------------------------------------


def candidate(w: Workspace, files: dict[str, str]) -> tuple[Sha, Sha]:
    """A commit on supervisor/issue-1 in the mirror: (base, head)."""
    w.ensure_mirror(fetch=True)
    base = w.base_sha()
    wt = w.issue_worktree(IssueNumber(1), base)
    for name, text in files.items():
        (wt / name).parent.mkdir(parents=True, exist_ok=True)
        (wt / name).write_text(text)
    git(wt, "add", "-A")
    git(wt, "commit", "-qm", "the change")
    return base, Sha(git(wt, "rev-parse", "HEAD"))


def test_land_fast_forwards_a_checked_out_main_and_keeps_user_changes(
    home: Path, target: Path
) -> None:
    w = workspace(home)
    base, head = candidate(w, {"done/a.txt": "a\n"})
    (target / "notes.txt").write_text("the user's own notes\n")
    (target / "check.sh").write_text("#!/bin/sh\necho edited by the user\n")
    land.fast_forward(target, w.mirror, "main", "supervisor/issue-1", head, base)
    assert git(target, "rev-parse", "main") == head
    assert git(target, "symbolic-ref", "--short", "HEAD") == "main"
    assert (target / "done" / "a.txt").read_text() == "a\n"
    assert (target / "notes.txt").read_text() == "the user's own notes\n"
    assert (target / "check.sh").read_text() == "#!/bin/sh\necho edited by the user\n"
    assert git(target, "status", "--porcelain") == "M check.sh\n?? notes.txt"
    assert land.contains(target, "main", head)


def test_land_refuses_to_overwrite_an_uncommitted_change(home: Path, target: Path) -> None:
    w = workspace(home)
    base, head = candidate(w, {"tasks.md": "# Tasks\n\n- [x] done by the worker\n"})
    (target / "tasks.md").write_text("the user's unsaved edit\n")
    with pytest.raises(UserError) as e:
        land.fast_forward(target, w.mirror, "main", "supervisor/issue-1", head, base)
    assert "fast-forward" in str(e.value) and "tasks.md" in str(e.value)
    assert "fix: the target's working tree may have local changes" in str(e.value)
    assert git(target, "rev-parse", "main") == base
    assert (target / "tasks.md").read_text() == "the user's unsaved edit\n"
    assert not land.contains(target, "main", head)


def test_land_updates_a_bare_target_by_compare_and_swap(tmp_path: Path) -> None:
    source = make_target(tmp_path / "src", ["Create done/a.txt"])
    bare = tmp_path / "bare.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(source), str(bare)], check=True)
    w = workspace(init_home(tmp_path / "h", bare))
    base, head = candidate(w, {"done/a.txt": "a\n"})
    land.fast_forward(bare, w.mirror, "main", "supervisor/issue-1", head, base)
    assert git(bare, "rev-parse", "refs/heads/main") == head
    assert branches(bare) == ["main"]  # the candidate branch is not created in the target
    assert land.target_base_sha(bare, "main") == head


def test_land_moves_main_when_another_branch_is_checked_out(home: Path, target: Path) -> None:
    w = workspace(home)
    base, head = candidate(w, {"done/a.txt": "a\n"})
    git(target, "checkout", "-q", "-b", "feature")
    (target / "wip.txt").write_text("user work\n")
    land.fast_forward(target, w.mirror, "main", "supervisor/issue-1", head, base)
    assert git(target, "rev-parse", "refs/heads/main") == head
    assert git(target, "rev-parse", "refs/heads/feature") == base
    assert git(target, "symbolic-ref", "--short", "HEAD") == "feature"
    assert not (target / "done").exists()  # the user's checkout is not touched
    assert git(target, "status", "--porcelain") == "?? wip.txt"


@pytest.mark.parametrize("checked_out", [True, False])
def test_land_raises_base_moved_when_main_moved(
    home: Path, target: Path, checked_out: bool
) -> None:
    w = workspace(home)
    base, head = candidate(w, {"done/a.txt": "a\n"})
    moved = commit_file(target, "README", "the user committed meanwhile\n")
    if not checked_out:
        git(target, "checkout", "-q", "--detach")
    with pytest.raises(land.BaseMoved) as e:
        land.fast_forward(target, w.mirror, "main", "supervisor/issue-1", head, base)
    assert str(e.value) == f"main moved to {moved[:12]} while landing"
    assert git(target, "rev-parse", "refs/heads/main") == moved
    assert not (target / "done").exists()


def test_land_refuses_a_head_that_is_not_the_mirror_branch(home: Path, target: Path) -> None:
    w = workspace(home)
    base, head = candidate(w, {"done/a.txt": "a\n"})
    with pytest.raises(UserError) as e:
        land.fast_forward(target, w.mirror, "main", "supervisor/issue-1", base, base)
    assert str(e.value) == (
        f"supervisor/issue-1 in the mirror is at {head[:12]}, not the verified "
        f"{base[:12]}; it will be verified again"
    )
    assert git(target, "rev-parse", "main") == base


def test_land_removes_a_stale_index_lock_left_by_a_killed_merge(home: Path, target: Path) -> None:
    w = workspace(home)
    base, head = candidate(w, {"done/a.txt": "a\n"})
    lock = target / ".git" / "index.lock"
    lock.write_text("")
    land.fast_forward(target, w.mirror, "main", "supervisor/issue-1", head, base)
    assert not lock.exists()
    assert git(target, "rev-parse", "main") == head


def test_land_keeps_a_lock_while_a_git_process_works_in_the_target(
    home: Path, target: Path
) -> None:
    w = workspace(home)
    base, head = candidate(w, {"done/a.txt": "a\n"})
    lock = target / ".git" / "index.lock"
    lock.write_text("")
    # A long-lived git process in the target (it waits on its stdin).
    busy = subprocess.Popen(
        ["git", "-C", str(target), "cat-file", "--batch"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
    )
    try:
        with pytest.raises(UserError, match=r"index\.lock"):
            land.fast_forward(target, w.mirror, "main", "supervisor/issue-1", head, base)
        assert lock.exists()
        assert git(target, "rev-parse", "main") == base
    finally:
        busy.kill()
        busy.wait()
