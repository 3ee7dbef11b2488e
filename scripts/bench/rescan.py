#!/usr/bin/env python3
"""rescan: what a scan with nothing new costs against GitHub's rate limit.

Against the fake GitHub server of the tests (on 127.0.0.1), with a workflow that has N failed runs
(each with a rerun that passed) and labelled issues: a first scan (the baseline), a settling scan
(the first scan's own issues changed what the listings embed), then the measured scan. The figure
is the number of requests that counted against the rate limit in the measured scan, as a ratio of
the baseline's. Target: 0 (every request a 304).

    python scripts/bench/rescan.py [--runs N] [--quick]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from fakegithub.server import FakeGitHub  # noqa: E402

TOKEN = "ghp_benchbenchbenchbenchbenchbenchbench1"
LOG = """\
2026-03-02T10:11:12.1234567Z === RUN   TestRegion{n}
2026-03-02T10:11:42.1234567Z     r_test.go:41:
2026-03-02T10:11:42.1234568Z         \tError Trace:\t/home/runner/work/pd/pd/server/r_test.go:41
2026-03-02T10:11:42.1234570Z         \tError:      \tCondition never satisfied
2026-03-02T10:11:42.1234571Z         \tTest:       \tTestRegion{n}
2026-03-02T10:11:42.1234572Z --- FAIL: TestRegion{n} (30.01s)
2026-03-02T10:11:42.1234574Z FAIL\tgithub.com/tikv/pd/server\t30.1s
"""


def git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def supervisor(home: Path, *args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "supervisor", "--home", str(home), *args],
        check=True,
        capture_output=True,
        env={**os.environ, "GITHUB_TOKEN": TOKEN},
    )


def counted(fake: FakeGitHub, start: int) -> tuple[int, int]:
    """Requests since start: (all, those that counted against the rate limit)."""
    done = fake.requests[start:]
    free = sum(1 for r in done if r.status == 304 or r.path == "/rate_limit")
    return len(done), len(done) - free


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--runs", type=int, default=None, help="failed workflow runs (30; quick 5)")
    p.add_argument("--quick", action="store_true", help="fewer runs; never fails")
    args = p.parse_args()
    runs = args.runs or (5 if args.quick else 30)
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        work = base / "work"
        work.mkdir()
        git("init", "-q", "-b", "main", cwd=work)
        (work / "README").write_text("bench\n")
        git("add", "-A", cwd=work)
        git("-c", "user.name=b", "-c", "user.email=b@b", "commit", "-qm", "init", cwd=work)
        bare = base / "widgets.git"
        git("clone", "-q", "--bare", str(work), str(bare), cwd=base)
        fake = FakeGitHub()
        fake.start()
        try:
            fake.add_user("bot", TOKEN)
            fake.add_repo("acme", "widgets", git_dir=bare, collaborators={"bot": "COLLABORATOR"})
            for n in range(runs):
                run = fake.add_workflow_run("acme/widgets", f"{n:040x}", workflow="pd.yaml")
                fake.add_job("acme/widgets", run, "unit", "failure", log=LOG.format(n=n % 7))
                fake.add_attempt("acme/widgets", run, "success")
                fake.add_job("acme/widgets", run, "unit", "success", log="ok\n")
            home = base / "home"
            supervisor(
                home, "init", "--forge", "github", "--target", "acme/widgets", "--worker", "true"
            )
            cfg = (home / "supervisor.yaml").read_text()
            cfg = cfg.replace("api_url: https://api.github.com", f"api_url: {fake.url}")
            cfg = cfg.replace("workflow: []", "workflow: pd.yaml")
            (home / "supervisor.yaml").write_text(cfg)
            start = len(fake.requests)
            supervisor(home, "scan")
            first_all, first = counted(fake, start)
            supervisor(home, "scan")  # settles: the first scan's issues changed the listings
            start = len(fake.requests)
            supervisor(home, "scan")
            again_all, again = counted(fake, start)
        finally:
            fake.stop()
    ratio = again / first if first else 0.0
    print(
        f"rescan: {again} of {again_all} requests counted against the rate limit "
        f"(first scan: {first} of {first_all}); ratio {ratio:.2f} (target 0); {runs} runs"
    )
    if again and not args.quick:
        print("FAIL: a scan with nothing new cost rate limit", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
