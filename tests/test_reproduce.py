"""Stress runs with numbers: the statistics, the verdicts, and real runs of generated Python and
Go tests that fail with a known probability (seeded by the run's index, so every run of the test
suite sees the same sample)."""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path

import psutil
import pytest
from conftest import run_cli

from supervisor.config import Reproduce
from supervisor.reproduce import build_spec, measure_after, measure_before, stats, verdict
from supervisor.reproduce.runners import RunSpec, go_pattern, package_dir
from supervisor.reproduce.stress import stress

# A test that fails 20% of the time (seeded random per run), 10% with HALF (every tenth run),
# never with FIXED, always with BROKEN.
PY_TEST = """\
import os, random

def test_wait_for_leader():
    run = int(os.environ.get("SUPERVISOR_RUN_INDEX", "0"))
    if os.path.exists("FIXED"):
        return
    if os.path.exists("BROKEN"):
        assert False, "leader never elected"
    if os.path.exists("HALF"):
        assert run % 10 != 7, "Condition never satisfied"
        return
    assert random.Random(f"leader-{run}").random() >= 0.2, "Condition never satisfied"
"""

GO_TEST = """\
package flaky

import (
\t"math/rand"
\t"os"
\t"strconv"
\t"testing"
)

func roll() float64 {
\trun, _ := strconv.Atoi(os.Getenv("SUPERVISOR_RUN_INDEX"))
\treturn rand.New(rand.NewSource(int64(run)*7919 + 17)).Float64()
}

func TestWaitLeader(t *testing.T) {
\tif _, err := os.Stat("FIXED"); err == nil {
\t\treturn
\t}
\tif roll() < 0.2 {
\t\tt.Fatalf("Condition never satisfied")
\t}
}

func TestSuite(t *testing.T) {
\tt.Run("Case", func(t *testing.T) {
\t\tif roll() < 0.5 {
\t\t\tt.Fatal("boom")
\t\t}
\t})
\tt.Run("Other", func(t *testing.T) { t.Fatal("never run by the pattern") })
}

func TestAlways(t *testing.T) { t.Fatal("always") }
"""


def py_project(tmp_path: Path, mode: str = "") -> Path:
    proj = tmp_path / "proj"
    proj.mkdir(exist_ok=True)
    (proj / "test_leader.py").write_text(PY_TEST)
    for name in ("FIXED", "HALF", "BROKEN"):
        (proj / name).unlink(missing_ok=True)
    if mode:
        (proj / mode).write_text("")
    return proj


def spec_for(proj: Path, tmp_path: Path) -> RunSpec:
    return build_spec("test_leader.py::test_wait_for_leader", proj, "auto", R, tmp_path / "b")


R = Reproduce(runs=100, parallel="2", budget=300.0, timeout=60.0)


# -- the statistics ---------------------------------------------------------------------------


def test_intervals_and_plans_match_the_textbook_figures() -> None:
    low, high = stats.interval(7, 60)
    assert (
        f"{stats.pct(7 / 60)}, 95% CI {stats.pct(low)}-{stats.pct(high)}" == "12%, 95% CI 4.8%-23%"
    )
    assert stats.rules_out(59) < 0.05 < stats.rules_out(58)  # 0 of 59 rules out 5%
    assert stats.runs_to_rule_out(0.05) == 59 and stats.runs_to_rule_out(0.10) == 29
    assert stats.interval(0, 10)[0] == 0 and stats.interval(10, 10)[1] == 1


@pytest.mark.parametrize("p", [0.02, 0.05, 0.2, 0.5])
def test_the_interval_covers_the_true_rate_at_least_95_percent_of_the_time(p: float) -> None:
    """Exact coverage, summed over every possible outcome (no sampling)."""
    n = 60
    coverage = sum(
        stats.binom_cdf(k, n, p) - stats.binom_cdf(k - 1, n, p)
        for k in range(n + 1)
        if stats.interval(k, n)[0] <= p <= stats.interval(k, n)[1]
    )
    assert coverage >= 0.95


def test_a_candidate_at_half_the_rate_passes_the_planned_runs_at_most_5_percent_of_the_time() -> (
    None
):
    for before in ({"failures": 12, "runs": 60}, {"failures": 3, "runs": 60}):
        target, runs = verdict.plan(before)  # type: ignore[misc]
        assert target == before["failures"] / before["runs"] / 2
        assert (1 - target) ** runs <= 0.05 < (1 - target) ** (runs - 1)


# -- real runs of a generated Python project --------------------------------------------------


def test_python_rate_interval_and_fingerprint(tmp_path: Path) -> None:
    proj = py_project(tmp_path)
    r = run_cli(tmp_path / "nohome", "reproduce", "test_leader.py::test_wait_for_leader",
                "--path", str(proj), "--runs", "100", "--parallel", "2", "--json")  # fmt: skip
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert list(doc)[:8] == [
        "test", "runs", "failures", "rate", "ci95", "fingerprints", "verdict", "seconds_per_run",
    ]  # fmt: skip
    assert doc["runs"] == 100 and doc["verdict"] == "reproduced"
    low, high = doc["ci95"]
    assert low <= 0.2 <= high and 5 <= doc["failures"] <= 40
    assert len(doc["fingerprints"]) == 1 and doc["fingerprints"][0].startswith("fp-")
    assert len(doc["failed_logs"]) == doc["failures"]
    assert "Condition never satisfied" in Path(doc["failed_logs"][0]).read_text()
    text = run_cli(tmp_path / "nohome", "reproduce", "test_leader.py::test_wait_for_leader",
                   "--path", str(proj), "--runs", "20").stdout  # fmt: skip
    assert text.startswith("test_leader.py::test_wait_for_leader: reproduced: ")


def test_a_fix_is_accepted_half_a_fix_rejected_and_a_broken_test_is_deterministic(
    tmp_path: Path,
) -> None:
    proj = py_project(tmp_path)
    m, v = measure_before(spec_for(proj, tmp_path), R, tmp_path / "l0", runs=60)
    assert v.verdict == "reproduced", v.words
    before = m.figures()
    target, planned = verdict.plan(before)  # type: ignore[misc]
    py_project(tmp_path, "FIXED")
    m, v = measure_after(spec_for(proj, tmp_path), before, R, tmp_path / "l1")
    assert (v.verdict, v.accepted, m.runs) == ("fixed", True, planned), v.words
    assert planned < 100  # fewer runs than a fixed count of 100
    assert f"below {stats.pct(target, up=True)}" in v.words
    py_project(tmp_path, "HALF")
    m, v = measure_after(spec_for(proj, tmp_path), before, R, tmp_path / "l2")
    assert (v.verdict, v.accepted) == ("still_flaky", False), v.words
    assert m.failures >= 1 and m.ended == "decided"
    py_project(tmp_path, "BROKEN")
    m, v = measure_before(spec_for(proj, tmp_path), R, tmp_path / "l3", runs=60)
    assert v.verdict == "deterministic" and m.runs < 10, v.words
    assert "not a flaky test" in v.words
    # Not reproduced: the verdict says what the runs rule out, and the after-runs cannot claim.
    py_project(tmp_path, "FIXED")
    m, v = measure_before(spec_for(proj, tmp_path), R, tmp_path / "l4", runs=59)
    assert v.verdict == "not_reproduced" and "rate below 5% with 95% confidence" in v.words
    m, v = measure_after(spec_for(proj, tmp_path), m.figures(), R, tmp_path / "l5")
    assert v.verdict == "unproven" and "cannot show an improvement" in v.words


# -- resource safety --------------------------------------------------------------------------


def _hanger(tmp_path: Path, marker: str) -> RunSpec:
    script = f"sleep 300 & sleep 300 # {marker}"
    return RunSpec("command", "hang", ["sh", "-c", script], tmp_path, {}, script)


def _alive(marker: str) -> list[psutil.Process]:
    return [
        p
        for p in psutil.process_iter(["cmdline"])
        if any(marker in part for part in (p.info["cmdline"] or []))
    ]


def test_a_hung_run_is_killed_with_its_tree_and_the_budget_holds(tmp_path: Path) -> None:
    marker = f"hang-{time.monotonic_ns()}"
    start = time.monotonic()
    m = stress(_hanger(tmp_path, marker), 10, 2, 30.0, 1.0, tmp_path / "logs")
    assert m.runs == 10 and m.timeouts == 10 and m.failures == 10
    assert "timeout" in m.fingerprints
    assert not _alive(marker)
    m = stress(_hanger(tmp_path, marker), 10, 2, 2.0, 60.0, tmp_path / "logs2")
    assert time.monotonic() - start < 30 and m.ended == "budget" and m.runs == 0
    assert m.wall_s < 2.0 + 1.5  # the budget, plus at most the time to kill
    assert not _alive(marker)


def test_stop_ends_a_stress_run_within_a_second(tmp_path: Path) -> None:
    marker = f"stop-{time.monotonic_ns()}"
    stop = threading.Event()
    threading.Timer(1.0, stop.set).start()
    m = stress(_hanger(tmp_path, marker), 100, 2, 300.0, 300.0, tmp_path / "logs", stop)
    assert m.ended == "stopped" and m.wall_s < 1.0 + 1.0
    assert not _alive(marker)


def test_a_command_runner_gets_its_own_port_and_folder(tmp_path: Path) -> None:
    r = Reproduce(command='echo "{test} $PORT {port} $TMPDIR {run}" >> ' + str(tmp_path / "seen"))
    spec = build_spec("TestX", tmp_path, "command", r, tmp_path / "b")
    m = stress(spec, 6, 3, 60.0, 10.0, tmp_path / "logs")
    assert m.runs == 6 and m.failures == 0
    lines = (tmp_path / "seen").read_text().split("\n")[:-1]
    ports = {line.split()[1] for line in lines}
    assert len(lines) == 6 and len(ports) == 6
    assert all(line.split()[1] == line.split()[2] for line in lines)
    assert len({line.split()[3] for line in lines}) == 6  # a folder each
    assert sorted(int(line.split()[4]) for line in lines) == [1, 2, 3, 4, 5, 6]


def test_unusable_input_is_a_clear_error(tmp_path: Path) -> None:
    r = run_cli(tmp_path / "h", "reproduce", "TestX", "--path", str(tmp_path / "missing"))
    assert r.exit_code == 2 or "is not a folder" in r.stderr
    (tmp_path / "empty").mkdir()
    r = run_cli(tmp_path / "h", "reproduce", "TestX", "--path", str(tmp_path / "empty"))
    assert r.exit_code == 1 and "--runner go|pytest|command" in r.stderr
    r = run_cli(tmp_path / "h", "reproduce", "TestX", "--path", str(tmp_path / "empty"),
                "--runner", "command")  # fmt: skip
    assert r.exit_code == 1 and "reproduce.command" in r.stderr
    r = run_cli(tmp_path / "h", "reproduce", "TestX", "--budget", "soon")
    assert r.exit_code == 2 and "e.g. 90s" in r.stderr


# -- Go ---------------------------------------------------------------------------------------

needs_go = pytest.mark.skipif(shutil.which("go") is None, reason="Go is not installed")


def go_module(tmp_path: Path) -> Path:
    mod = tmp_path / "gomod"
    (mod / "pkg" / "flaky").mkdir(parents=True)
    (mod / "go.mod").write_text("module example.com/flaky\n\ngo 1.19\n")
    (mod / "pkg" / "flaky" / "flaky_test.go").write_text(GO_TEST)
    return mod


def test_go_patterns_and_packages(tmp_path: Path) -> None:
    assert go_pattern("TestSuite/TestCase") == "^TestSuite$/^TestCase$"
    mod = go_module(tmp_path)
    assert package_dir(mod, "example.com/flaky/pkg/flaky") == mod / "pkg" / "flaky"
    assert package_dir(mod, "pkg/flaky") == mod / "pkg" / "flaky"


@needs_go
def test_go_test_binary_is_built_once_and_run_many_times(tmp_path: Path) -> None:
    pkg = go_module(tmp_path) / "pkg" / "flaky"
    env_home = tmp_path / "nohome"
    r = run_cli(env_home, "reproduce", "TestWaitLeader", "--path", str(pkg), "--runs", "100",
                "--json")  # fmt: skip
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["verdict"] == "reproduced" and doc["ci95"][0] <= 0.2 <= doc["ci95"][1]
    assert doc["command"].startswith("go test -run '^TestWaitLeader$' -count=1")
    assert doc["fingerprints"] and doc["seconds_per_run"] < 5
    r = run_cli(env_home, "reproduce", "TestSuite/Case", "--path", str(pkg), "--runs", "40",
                "--json")  # fmt: skip
    doc = json.loads(r.stdout)
    assert doc["verdict"] == "reproduced" and 0.2 < doc["rate"] < 0.8  # "Other" never ran
    r = run_cli(env_home, "reproduce", "TestAlways", "--path", str(pkg), "--json")
    assert json.loads(r.stdout)["verdict"] == "deterministic"
    (pkg / "FIXED").write_text("")
    spec = build_spec("TestWaitLeader", pkg, "go", R, tmp_path / "b")
    m, v = measure_after(spec, {"failures": 12, "runs": 60}, R, tmp_path / "l")
    assert v.accepted and m.runs == 29


@needs_go
def test_go_amplifiers_reach_the_test_binary(tmp_path: Path) -> None:
    pkg = go_module(tmp_path) / "pkg" / "flaky"
    amp = Reproduce(race=True, cpu="1,2", shuffle=True, gomaxprocs=1, timeout=300.0)
    spec = build_spec("TestWaitLeader", pkg, "go", amp, tmp_path / "b")
    assert (
        spec.argv[-4:] == ["-test.cpu", "1,2", "-test.shuffle=on"][-4:] or "-test.cpu" in spec.argv
    )
    assert "-test.shuffle=on" in spec.argv and spec.env == {"GOMAXPROCS": "1"}
    assert "-race" in spec.shown
    m = stress(spec, 4, 2, 120.0, 120.0, tmp_path / "logs")
    assert m.runs == 4


# -- in the chain -----------------------------------------------------------------------------


def ci_target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fix: str) -> tuple[Path, Path]:
    """A local target with the flaky test, a real CI log of it failing, and a worker whose
    change is `fix` (FIXED: the test never fails; HALF: it fails half as often)."""
    import subprocess
    import sys

    from conftest import init_home, make_target
    from test_conversation import configure

    target = make_target(tmp_path / "t", [], {"test_leader.py": PY_TEST})
    logs = tmp_path / "ci-logs"
    logs.mkdir()
    for run in range(1, 50):  # a real failing run, as CI saw it
        r = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_leader.py"],
            cwd=target, capture_output=True, text=True,
            env={**__import__("os").environ, "SUPERVISOR_RUN_INDEX": str(run)},
        )  # fmt: skip
        if r.returncode:
            (logs / "job-1.log").write_text(r.stdout + r.stderr)
            break
    home = init_home(tmp_path / "h", target)
    configure(home, logs_dir=str(logs), mode="auto", runs="60", parallel="2")
    monkeypatch.setenv("FAKE_WORKER_DEFAULT", f"Create {fix}")
    return home, target


def the_item(home: Path) -> dict:
    [item] = [json.loads(p.read_text()) for p in (home / "state" / "items").glob("*.json")]
    return item


def test_the_chain_proves_a_fix_with_numbers_before_and_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home, _ = ci_target(tmp_path, monkeypatch, "FIXED")
    r = run_cli(home, "start", "--until-idle")
    assert r.exit_code == 0, r.output
    item = the_item(home)
    assert item["state"] == "merged", item["history"]
    before = item["reproduction"]["before"]
    assert before["verdict"] == "reproduced" and before["runs"] == 60, before
    after = item["attempts"][-1]["reproduction"]
    assert after["verdict"] == "fixed" and after["accepted"] and after["failures"] == 0
    assert after["runs"] == verdict.plan(before)[1]  # type: ignore[index]
    pull = json.loads(next((home / "state/forge/pulls").glob("*.json")).read_text())
    assert "## The flaky test, stress-run" in pull["body"]
    assert f"- before the fix: {before['words']}" in pull["body"]
    assert "- after the fix: fixed: 0 of" in pull["body"]
    issue = json.loads(next((home / "state/forge/issues").glob("*.json")).read_text())
    assert "**Stress runs before a fix:** reproduced: " in issue["body"]
    verified = next(h for h in item["history"] if h["to"] == "reviewing")
    assert "fixed: 0 of" in verified["reason"]
    shown = run_cli(home, "show", item["id"]).stdout  # the whole story
    assert (
        "found in CI: test_wait_for_leader in test_leader.py (assertion), classified flaky" in shown
    )
    assert "\n  because " in shown and "occurrences: 1 (first " in shown
    assert f"stress runs before a fix: {before['words']}" in shown
    assert "  stress runs after the fix: fixed: 0 of" in shown


def test_a_fix_that_only_halves_the_failures_is_not_accepted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home, target = ci_target(tmp_path, monkeypatch, "HALF")
    main = __import__("conftest").git(target, "rev-parse", "main")
    r = run_cli(home, "start", "--until-idle")
    assert r.exit_code == 0, r.output
    item = the_item(home)
    assert item["state"] == "failed", item["history"]
    # then the fake worker writes the same file again: no change
    assert [a["failure_reason"] for a in item["attempts"]][:2] == ["still_flaky", "still_flaky"]
    assert "still flaky: 1 of" in item["attempts"][0]["detail"]
    assert __import__("conftest").git(target, "rev-parse", "main") == main
    prompt = home / "state/runs" / f"issue-{item['issue']}" / "attempt-2" / "prompt.md"
    assert "The stress runs of the test on your change: still flaky" in prompt.read_text()


def test_state_stop_ends_supervisor_reproduce_in_a_home(tmp_path: Path) -> None:
    from conftest import init_home, make_target

    home = init_home(tmp_path / "h", make_target(tmp_path / "t", []))
    (home / "supervisor.yaml").write_text(
        (home / "supervisor.yaml").read_text().replace("command: ''", "command: 'sleep 300'")
    )
    threading.Timer(1.0, (home / "state" / "STOP").touch).start()
    start = time.monotonic()
    r = run_cli(home, "reproduce", "TestX", "--path", str(tmp_path), "--runner", "command")
    assert r.exit_code == 0, r.output
    assert time.monotonic() - start < 1.0 + 2.0
    assert "TestX: no run finished (stopped)" in r.stdout
