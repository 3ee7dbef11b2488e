#!/usr/bin/env python3
"""Benchmark: creating an issue worktree through the supervisor vs a raw `git worktree add`.

Generates (once, cached) a git repository with many files and commits using `git fast-import`,
clones it into a supervisor home the way `supervisor start` does (Workspace.ensure_mirror), then
times, interleaved over N rounds:

  ours  Workspace.issue_worktree(IssueNumber(n), sha) for a fresh issue number
  raw   git -C mirror.git worktree add -b raw-<n> <path> <sha>   (same commit)

Removal after each creation is not timed. The figure is the ratio of the medians (ours / raw),
so the noise of a shared machine mostly cancels out. Target: ratio <= 1.2.

    python scripts/bench/worktree.py            # full: 1,500 files, 5,000 commits, 15 rounds
    python scripts/bench/worktree.py --quick    # CI smoke run: small repo, 3 rounds, never fails

Exit code: 0 on success (always in --quick), 1 when the target is missed in full mode.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from supervisor import app
from supervisor.config import AgentSpec, load_config
from supervisor.config_render import render_default
from supervisor.home import Home
from supervisor.ids import IssueNumber, Sha
from supervisor.workspace import Workspace

TARGET_RATIO = 1.2
GENERATOR_VERSION = 1  # bump when the generated repository changes shape
EPOCH = 1_600_000_000
AUTHOR = b"Bench <bench@example.com>"
WORDS = [
    *("alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa"),
    *("lambda", "mu", "nu", "xi", "omicron", "pi", "rho", "sigma", "tau", "upsilon", "phi"),
    *("chi", "psi", "omega", "return", "value", "index", "count", "total", "item", "state"),
]


def _line(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 9)))


def _content(rng: random.Random, path: str, lines: int) -> bytes:
    body = [f"# {path}"] + [_line(rng) for _ in range(lines)]
    return ("\n".join(body) + "\n").encode()


def _data(payload: bytes) -> bytes:
    return b"data %d\n" % len(payload) + payload + b"\n"


def fast_import_stream(files: int, commits: int, seed: int = 1) -> bytes:
    """A fast-import stream: one commit adding `files` files, then small edits up to `commits`."""
    rng = random.Random(seed)
    paths = [f"src/pkg{i % 40:02d}/module_{i:05d}.py" for i in range(files)]
    out: list[bytes] = []

    def header(n: int, message: str) -> None:
        stamp = b"%s %d +0000" % (AUTHOR, EPOCH + n * 60)
        out.append(b"commit refs/heads/main\n")
        out.append(b"author " + stamp + b"\ncommitter " + stamp + b"\n")
        out.append(_data(message.encode()))

    header(0, "initial import")
    for p in paths:
        out.append(b"M 100644 inline " + p.encode() + b"\n")
        out.append(_data(_content(rng, p, rng.randint(20, 60))))
    out.append(b"M 100644 inline tasks.md\n" + _data(b"# Tasks\n"))
    for n in range(1, commits):
        header(n, f"change {n}: {_line(rng)}")
        for p in rng.sample(paths, rng.randint(1, 3)):
            out.append(b"M 100644 inline " + p.encode() + b"\n")
            out.append(_data(_content(rng, p, rng.randint(20, 60))))
    out.append(b"done\n")
    return b"".join(out)


def _git(*args: str | Path, cwd: Path | None = None, stdin: bytes | None = None) -> str:
    r = subprocess.run(
        ["git", *(str(a) for a in args)],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        check=False,
    )
    if r.returncode != 0:
        cmd = " ".join(str(a) for a in args)
        raise SystemExit(f"git {cmd} failed ({r.returncode}): {r.stderr.decode(errors='replace')}")
    return r.stdout.decode().strip()


def ensure_repo(cache_dir: Path, files: int, commits: int) -> Path:
    """The generated repository, built once per (shape, generator version) and kept in cache_dir."""
    repo = cache_dir / f"repo-v{GENERATOR_VERSION}-{files}f-{commits}c"
    if (repo / ".bench-complete").exists():
        return repo
    partial = repo.with_name(repo.name + ".partial")
    if partial.exists():
        shutil.rmtree(partial)
    partial.mkdir(parents=True)
    started = time.monotonic()
    _git("init", "--quiet", "--initial-branch=main", partial)
    stream = fast_import_stream(files, commits)
    _git("fast-import", "--quiet", "--done", cwd=partial, stdin=stream)
    _git("reset", "--quiet", "--hard", "main", cwd=partial)
    count = int(_git("rev-list", "--count", "main", cwd=partial))
    tracked = len(_git("ls-files", cwd=partial).splitlines())
    assert count == commits and tracked >= files, (count, tracked)
    (partial / ".git" / "info" / "exclude").write_text(".bench-complete\n")
    (partial / ".bench-complete").write_text(f"{files} files, {commits} commits\n")
    if repo.exists():
        shutil.rmtree(repo)
    partial.rename(repo)
    took = time.monotonic() - started
    print(f"generated {repo} ({tracked} files, {count} commits) in {took:.1f} s", flush=True)
    return repo


def make_workspace(home_dir: Path, repo: Path) -> Workspace:
    home = Home(home_dir)
    home.ensure_dirs()
    text = render_default(
        {
            "target": str(repo),
            "forge": "local",
            "base_branch": "main",
            "agents.worker": AgentSpec("command", ("true",)),
        }
    )
    home.config_file.write_text(text, encoding="utf-8")
    cfg = load_config(home.config_file)
    # As `supervisor start --background` does: the log file only, nothing on the console.
    app.setup_logging(home, console=False)
    ws = Workspace(home, cfg)
    ws.ensure_mirror()
    return ws


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def run(args: argparse.Namespace) -> int:
    cache_dir = Path(args.cache_dir) if args.cache_dir else Path(tempfile.gettempdir()) / "sv-bench"
    repo = ensure_repo(cache_dir.resolve(), args.files, args.commits)
    with tempfile.TemporaryDirectory(prefix="sv-bench-home-") as tmp:
        ws = make_workspace(Path(tmp) / "home", repo)
        mirror = ws.mirror
        sha = Sha(ws.base_sha())
        raw_dir = ws.home.worktrees

        def ours(n: int) -> float:
            issue = IssueNumber(n)
            took = timed(lambda: ws.issue_worktree(issue, sha))
            if not (ws.home.issue_worktree(issue) / ".git").exists():
                raise SystemExit(f"issue worktree {n} was not created")
            ws.remove_issue_worktree(issue)
            return took

        def raw(n: int) -> float:
            path = raw_dir / f"raw-{n}"
            cmd = ["git", "-C", str(mirror), "worktree", "add", "-b", f"raw-{n}", str(path), sha]
            took = timed(lambda: subprocess.run(cmd, capture_output=True, check=True))
            subprocess.run(
                ["git", "-C", str(mirror), "worktree", "remove", "--force", str(path)],
                capture_output=True,
                check=True,
            )
            subprocess.run(
                ["git", "-C", str(mirror), "branch", "-D", f"raw-{n}"],
                capture_output=True,
                check=True,
            )
            return took

        # One untimed round of each warms the page cache and the index code paths.
        ours(100_000)
        raw(100_000)
        ours_s: list[float] = []
        raw_s: list[float] = []
        for i in range(args.rounds):
            n = i + 1
            # Alternate which goes first so neither always runs on a cache the other warmed.
            if i % 2 == 0:
                ours_s.append(ours(n))
                raw_s.append(raw(n))
            else:
                raw_s.append(raw(n))
                ours_s.append(ours(n))
        left = [p.name for p in raw_dir.iterdir() if p.name not in ("mirror.git",)]
        if left:
            print(f"warning: left in worktrees/: {left}", file=sys.stderr)

    ours_med = statistics.median(ours_s) * 1000
    raw_med = statistics.median(raw_s) * 1000
    ratio = ours_med / raw_med
    paired = statistics.median(o / r for o, r in zip(ours_s, raw_s, strict=True))
    print(
        f"worktree: ours {ours_med:.1f} ms, raw git {raw_med:.1f} ms, ratio {ratio:.2f} "
        f"(target <= {TARGET_RATIO}; medians of {args.rounds} rounds, "
        f"{args.files} files, {args.commits} commits)"
    )
    print(f"  median of the per-round ratios: {paired:.2f} (for context; not judged)")
    if args.verbose:
        print("  ours ms:", " ".join(f"{s * 1000:.1f}" for s in ours_s))
        print("  raw ms: ", " ".join(f"{s * 1000:.1f}" for s in raw_s))
    if ratio > TARGET_RATIO:
        if args.quick:
            print("  (target missed; --quick does not fail on it)")
            return 0
        print(f"FAIL: ratio {ratio:.2f} > {TARGET_RATIO}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="small repo, 3 rounds, never fails")
    p.add_argument("--rounds", type=int, default=None, help="timed rounds (default 15, quick 3)")
    p.add_argument("--files", type=int, default=None, help="files (default 1500, quick 200)")
    p.add_argument("--commits", type=int, default=None, help="commits (default 5000, quick 300)")
    p.add_argument(
        "--cache-dir",
        default=os.environ.get("SUPERVISOR_BENCH_CACHE"),
        help="where the generated repository is kept (default: $TMPDIR/sv-bench)",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="print every timing")
    args = p.parse_args(argv)
    if args.rounds is None:
        args.rounds = 3 if args.quick else 15
    if args.files is None:
        args.files = 200 if args.quick else 1500
    if args.commits is None:
        args.commits = 300 if args.quick else 5000
    if args.rounds < 1 or args.files < 1 or args.commits < 1:
        p.error("--rounds, --files and --commits must be at least 1")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
