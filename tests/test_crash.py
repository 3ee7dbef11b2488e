"""Crash safety: kill -9 the supervisor at random points, restart it, and nothing is done twice."""

from __future__ import annotations

import json
import os
import random
import subprocess
import time
from collections import Counter
from pathlib import Path

import psutil
from conftest import WORKER, git, init_home, make_target, supervisor_cmd

TASKS = 10
KILLS = 20


def _workers(home: Path) -> list[psutil.Process]:
    return [
        p
        for p in psutil.process_iter(["cmdline", "cwd"])
        if str(WORKER) in (p.info["cmdline"] or [])
        and str(p.info["cwd"] or "").startswith(str(home))
    ]


def test_random_kill_9_never_duplicates_or_loses_anything(tmp_path: Path) -> None:
    seed = int(os.environ.get("CRASH_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    target = make_target(tmp_path / "t", [f"Create done/t{i:02}.txt" for i in range(TASKS)])
    home = init_home(tmp_path / "h", target)
    base = git(target, "rev-parse", "main")
    env = {**os.environ, "FAKE_WORKER_SLEEP": "0.2"}
    kills = kills_during_work = 0
    try:
        while kills < KILLS:
            proc = subprocess.Popen(
                supervisor_cmd(home, "start", "--until-idle"),
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(rng.uniform(0.1, 0.9))
            if proc.poll() is None:
                proc.kill()  # SIGKILL: no cleanup of any kind
                kills += 1
                items = [
                    json.loads(p.read_text()) for p in (home / "state" / "items").glob("*.json")
                ]
                kills_during_work += any(i["state"] != "merged" for i in items) or not items
            proc.wait()
        final = subprocess.run(
            supervisor_cmd(home, "start", "--until-idle"),
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
    finally:
        for p in _workers(home):
            p.kill()
    assert final.returncode == 0, f"seed {seed}: {final.stdout}\n{final.stderr}"
    assert kills >= KILLS and kills_during_work >= KILLS // 2, (seed, kills, kills_during_work)

    # Every item merged exactly once; no commit applied twice.
    subjects = git(target, "log", "--format=%s", f"{base}..main").splitlines()
    counts = Counter(subjects)
    expected = {f"Create done/t{i:02}.txt" for i in range(TASKS)}
    expected |= {f"Check off: {s}" for s in expected}
    assert set(counts) == expected, (seed, counts)
    assert all(n == 1 for n in counts.values()), (seed, counts)
    assert git(target, "rev-list", "--count", f"{base}..main") == str(2 * TASKS)
    tasks = (target / "tasks.md").read_text()
    assert tasks.count("- [x]") == TASKS and "- [ ]" not in tasks
    assert git(target, "status", "--porcelain") == ""

    # One issue and one pull request per item: nothing duplicated on the forge.
    issues = [json.loads(p.read_text()) for p in (home / "state/forge/issues").glob("*.json")]
    pulls = [json.loads(p.read_text()) for p in (home / "state/forge/pulls").glob("*.json")]
    assert len(issues) == TASKS and all(i["state"] == "closed" for i in issues), seed
    assert len(pulls) == TASKS and all(p["state"] == "merged" for p in pulls), seed
    assert len({p["head"] for p in pulls}) == TASKS
    for issue in issues:  # the closing comment was posted once
        assert sum("Merged" in c["body"] for c in issue["comments"]) == 1, (seed, issue)

    # No state file corrupt, none moved aside, none half-written.
    for path in (home / "state").rglob("*"):
        assert ".corrupt-" not in path.name and not path.name.endswith(".tmp"), (seed, path)
        if path.suffix == ".json":
            assert json.loads(path.read_text())["schema_version"] == 1, path
    items = [json.loads(p.read_text()) for p in (home / "state" / "items").glob("*.json")]
    assert len(items) == TASKS and all(i["state"] == "merged" for i in items), seed
    assert _workers(home) == []
