"""Classification: each rule, their combinations, and the figures on the development set."""

from __future__ import annotations

import collections
import importlib
import json
from pathlib import Path

import pytest

from supervisor.triage.classify import Signals, classify, classify_all
from supervisor.triage.fingerprint import fingerprint
from supervisor.triage.model import CATEGORIES, Failure

PKG = "github.com/tikv/pd/tests/server/api"
SHA = "abc1234def5678"

NOT_EQUAL = """\
scheduler_test.go:871:
    Error Trace:    /home/runner/work/pd/pd/tests/server/api/scheduler_test.go:871
    Error:          Not equal:
                    expected: 200
                    actual  : 404
    Test:           TestAPI/TestConfig"""
NEVER = """\
testutil.go:68:
    Error Trace:    /home/runner/work/pd/pd/pkg/utils/testutil/testutil.go:68
                    /home/runner/work/pd/pd/tests/server/api/scheduler_test.go:120
    Error:          Condition never satisfied
    Test:           TestAPI/TestConfig"""
PRODUCT_RACE = """\
==================
WARNING: DATA RACE
Write at 0x00c0014f5b30 by goroutine 513:
  github.com/tikv/pd/pkg/mcs/server.(*Manager).Init()
      /home/runner/work/pd/pd/pkg/mcs/server/manager.go:132 +0x5d1
Previous read at 0x00c0014f5b30 by goroutine 900:
  github.com/tikv/pd/pkg/mcs/server.(*Manager).flush()
      /home/runner/work/pd/pd/pkg/mcs/server/manager.go:480 +0x12ed
Goroutine 513 (running) created at:
  github.com/tikv/pd/tests/server/api.TestAPI()
      /home/runner/work/pd/pd/tests/server/api/api_test.go:40 +0x33
=================="""
TEST_RACE = PRODUCT_RACE.replace(
    "  github.com/tikv/pd/pkg/mcs/server.(*Manager).flush()\n"
    "      /home/runner/work/pd/pd/pkg/mcs/server/manager.go:480 +0x12ed",
    "  github.com/tikv/pd/tests/server/api.TestAPI()\n"
    "      /home/runner/work/pd/pd/tests/server/api/api_test.go:55 +0x12ed",
)


def fail(
    signature: str = NOT_EQUAL,
    kind: str = "assertion",
    test: str = "TestAPI/TestConfig",
    package: str = PKG,
    excerpt: str | None = None,
) -> Failure:
    return Failure(test, package, kind, signature, signature if excerpt is None else excerpt)


def check(failure: Failure, signals: Signals | None = None) -> tuple[str, str]:
    category, reasons = classify(failure, signals)
    assert category in CATEGORIES and reasons and all(isinstance(r, str) and r for r in reasons)
    return category, " | ".join(reasons)


# -- single log, no history ---------------------------------------------------------------------


def test_a_plain_assertion_with_no_history_is_unknown_and_says_what_would_decide() -> None:
    category, why = check(fail())
    assert category == "unknown"
    assert "Not equal" in why and "rerun at the same commit" in why


def test_condition_never_satisfied_is_flaky_although_it_is_an_assertion_block() -> None:
    category, why = check(fail(NEVER, kind="assertion"))
    assert category == "flaky"
    assert "'Condition never satisfied'" in why and "wait helper" in why
    assert check(fail(NEVER, kind="wait_condition"))[0] == "flaky"


@pytest.mark.parametrize(
    ("kind", "signature", "words"),
    [
        (
            "timeout",
            "panic: test timed out after 10m0s\nrunning tests:\n\tTestAPI (9m59s)",
            "ran out of time",
        ),
        ("race", "testing.go:1312: race detected during execution of test", "data race"),
        ("leak", "goleak: Errors on successful test run: found unexpected goroutines:", "leaked"),
        (
            "assertion",
            "Error: Received unexpected error:\n dial tcp 127.0.0.1:2379: connect: "
            "connection refused",
            "connection",
        ),
        (
            "assertion",
            "Error: Received unexpected error:\n context deadline exceeded",
            "time limit",
        ),
        (
            "assertion",
            "Error: rpc error: code = Unavailable desc = etcdserver: leader changed",
            "etcd/gRPC",
        ),
        ("fail", "timed out waiting for the condition", "polling wait"),
        ("fail", "err=signal: segmentation fault (core dumped)", "pd-ut"),
        ("race", "", "interleavings"),  # the kind alone is a signature
    ],
)
def test_known_flaky_signatures_are_flaky(kind: str, signature: str, words: str) -> None:
    category, why = check(fail(signature, kind=kind))
    assert category == "flaky"
    assert words in why


@pytest.mark.parametrize(
    ("kind", "signature", "words"),
    [
        ("infra", "The runner has received a shutdown signal.", "infrastructure"),
        ("fail", "write /tmp/go-build1/b001/x.a: no space left on device", "disk was full"),
        ("fail", "signal: killed", "OOM"),
        (
            "build",
            'go: github.com/x/y@v1.2.3: Get "https://proxy.golang.org/x/@v/v1.2.3.zip": '
            "dial tcp: lookup proxy.golang.org: no such host",
            "modules could not be downloaded",
        ),
        ("fail", "fatal: early EOF\nfatal: index-pack failed", "git transfer"),
        (
            "assertion",
            "Error: Received unexpected error:\n listen tcp 127.0.0.1:4000: bind: "
            "address already in use",
            "port collision",
        ),
        ("fail", "make: failpoint-ctl: command not found", "missing"),
        ("fail", "##[error]The operation was canceled.", "stopped from outside"),
    ],
)
def test_infrastructure_signatures_are_infra(kind: str, signature: str, words: str) -> None:
    category, why = check(fail(signature, kind=kind))
    assert category == "infra"
    assert words in why


def test_a_missing_file_is_infra_only_outside_any_test() -> None:
    text = "read etcd key file error open tools/pd-ut/testdata/all.etcdkey: no such file"
    text += " or directory"
    assert check(fail(text, kind="fail", test="", package=""))[0] == "infra"
    assert check(fail(text, kind="assertion"))[0] == "unknown"  # a test's own missing file


def test_a_build_failure_is_a_regression() -> None:
    category, why = check(fail("server/api.go:12:2: undefined: foo", kind="build", test=""))
    assert (category, why) == ("regression", "the package does not compile (build failure)")
    category, why = check(fail("FAIL\tgithub.com/tikv/pd/server [build failed]", kind="fail"))
    assert category == "regression" and "does not compile" in why


def test_product_log_noise_and_struct_dumps_are_not_flaky_evidence() -> None:
    """pd's servers log 'connection refused' and 'timeout' in passing runs too; a config dump
    naming a timeout field says nothing about timing."""
    noise = '[2024/01/01 10:00:00.000 +00:00] [WARN] [client.go:1] ["connection refused"]\n'
    noise += "I0509 18:45:18.441385   11397 x.go:1] dial timeout\n"
    dump = "obtained *config.Config = &config.Config{" + "A:1, " * 60 + "dial-timeout:3s}"
    assert check(fail(NOT_EQUAL, excerpt=noise + NOT_EQUAL))[0] == "unknown"
    assert check(fail(f"Error: Not equal:\n{dump}"))[0] == "unknown"


# -- history ------------------------------------------------------------------------------------


def test_failed_and_passed_at_the_same_commit_is_flaky() -> None:
    signals = Signals(sha=SHA, failed_attempt=1, passed_attempt=2)
    category, why = check(fail(), signals)
    assert category == "flaky"
    assert (
        "failed and passed at the same commit abc1234 (job attempt 1 failed, attempt 2 passed)"
        in why
    )


def test_a_rerun_reported_both_ways_gives_one_sentence() -> None:
    """What the GitHub Actions source sends for a job that passed on its second attempt."""
    signals = Signals(
        sha=SHA,
        passed_at_same_sha=True,
        passed_where="a rerun of job 'chunks (3)'",
        failed_attempt=1,
        passed_attempt=2,
        run_conclusion="success",
    )
    category, reasons = classify(fail(), signals)
    assert category == "flaky"
    assert reasons[0] == (
        "failed and passed at the same commit abc1234 "
        "(job attempt 1 failed, attempt 2 passed; a rerun of job 'chunks (3)')"
    )
    assert not any("failed and passed" in r for r in reasons[1:])
    assert check(fail(), Signals(sha=SHA, passed_where="nowhere"))[0] == "unknown"


def test_a_pass_elsewhere_at_the_same_commit_is_flaky() -> None:
    where = Signals(sha=SHA, passed_at_same_sha=True, passed_where="workflow 'PD Test' on push")
    assert "(workflow 'PD Test' on push)" in check(fail(), where)[1]
    assert check(fail(), Signals(sha=SHA, passed_tests=frozenset({"TestAPI"})))[0] == "flaky"
    assert check(fail(), Signals(sha=SHA, passed_tests=frozenset({"TestOther"})))[0] == "unknown"


def test_a_pass_at_the_same_commit_outweighs_a_touched_test() -> None:
    signals = Signals(sha=SHA, passed_attempt=2, touched_paths=["tests/server/api/api_test.go"])
    category, why = check(fail(), signals)
    assert category == "flaky" and "rules out a deterministic regression" in why


def test_infra_outweighs_a_pass_at_the_same_commit() -> None:
    """A lost runner also passes on rerun: that does not make the test flaky."""
    signals = Signals(sha=SHA, passed_attempt=2)
    assert check(fail("no space left on device", kind="fail"), signals)[0] == "infra"


def test_a_build_that_fails_and_passes_at_one_commit_is_the_environment() -> None:
    signals = Signals(sha=SHA, passed_attempt=2)
    category, why = check(fail("a.go:1:1: undefined: x", kind="build", test=""), signals)
    assert category == "infra" and "environment" in why


def test_recurrence_across_several_base_branch_commits_is_flaky() -> None:
    f = fail()
    many = Signals(sha="c0", failed_shas=["c1111111", "c2222222"])
    category, why = check(f, many)
    assert category == "flaky" and "3 distinct base-branch commits" in why
    by_fp = Signals(sha="c0", failed_shas_by_fingerprint={fingerprint(f): ["c1", "c2", "c3"]})
    assert check(f, by_fp)[0] == "flaky"
    other = Signals(sha="c0", failed_shas_by_fingerprint={"fp-000000000000": ["c1", "c2"]})
    assert check(f, other)[0] == "unknown"


def test_one_other_commit_is_not_enough_alone_but_clears_the_commit_under_test() -> None:
    touched = ["tests/server/api/scheduler_test.go"]
    once = Signals(sha="c0", failed_shas=["c1"], touched_paths=touched)
    category, why = check(fail(), once)
    assert category == "unknown" and "did not introduce it" in why
    assert check(fail(NEVER), once)[0] == "flaky"  # a flaky signature no longer contradicted


def test_commit_lists_are_read_carefully() -> None:
    """Without the commit under test, one listed commit is just this one; a lone string is one
    commit, not its characters."""
    assert check(fail(), Signals(failed_shas=["c1"]))[0] == "unknown"
    assert "did not introduce" not in check(fail(), Signals(failed_shas=["c1"]))[1]
    assert check(fail(), Signals(failed_shas=["c1", "c2", "c3"]))[0] == "flaky"
    assert check(fail(), Signals(sha="c0", failed_shas="c1234"))[0] == "unknown"
    assert check(fail(), Signals(sha="c0", failed_shas=["c0", "c0"]))[0] == "unknown"


def test_a_deterministic_assertion_in_a_touched_test_is_a_regression() -> None:
    for touched in (["tests/server/api/scheduler_test.go"], ["./tests/server/api/util.go"]):
        category, why = check(fail(), Signals(sha=SHA, touched_paths=touched))
        assert category == "regression" and "the commit changed code on its path" in why


def test_a_commit_that_touched_other_code_leaves_an_assertion_unknown() -> None:
    category, why = check(fail(), Signals(sha=SHA, touched_paths=["server/api/other.go"]))
    assert category == "unknown" and "did not touch" in why
    assert check(fail(), Signals(sha=SHA, touched_paths=[]))[0] == "unknown"


def test_a_flaky_signature_in_touched_code_is_unknown() -> None:
    signals = Signals(sha=SHA, touched_paths=["tests/server/api/scheduler_test.go"])
    category, why = check(fail(NEVER), signals)
    assert category == "unknown" and "a rerun at the same commit tells" in why


def test_races_between_product_goroutines_are_not_called_flaky_without_history() -> None:
    category, why = check(fail(PRODUCT_RACE, kind="race", test=""))
    assert category == "unknown" and "both sides of the race are product code" in why
    assert check(fail(TEST_RACE, kind="race"))[0] == "flaky"  # the test itself races
    recurring = Signals(sha="c0", failed_shas=["c1"])
    assert check(fail(PRODUCT_RACE, kind="race", test=""), recurring)[0] == "flaky"


def test_a_race_in_a_file_the_commit_changed_is_a_regression() -> None:
    signals = Signals(sha=SHA, touched_paths=["pkg/mcs/server/manager.go"])
    category, why = check(fail(PRODUCT_RACE, kind="race", test=""), signals)
    assert category == "regression" and "pkg/mcs/server/manager.go" in why


def test_a_human_statement_decides_when_history_does_not() -> None:
    assert check(fail(), Signals(deterministic=True))[0] == "regression"
    assert check(fail(), Signals(deterministic=False))[0] == "flaky"
    assert check(fail(), Signals(deterministic=True, passed_attempt=2))[0] == "flaky"


def test_a_cancelled_run_makes_cut_short_failures_infra_but_not_finished_assertions() -> None:
    cancelled = Signals(run_conclusion="cancelled")
    category, why = check(fail("FAIL github.com/tikv/pd/server", kind="fail"), cancelled)
    assert category == "infra" and "cancelled" in why
    interrupted = fail("panic: interrupt\n\ngoroutine 1 [running]:", kind="panic")
    assert check(interrupted, Signals(cancelled=True))[0] == "infra"
    timed_out = fail("panic: test timed out after 10m0s", kind="timeout")
    assert check(timed_out, Signals(cancelled=True))[0] == "flaky"  # its own, before the cancel
    assert check(fail(), cancelled)[0] == "unknown"


def test_classify_all_sets_the_fields_and_spreads_a_job_wide_infra_failure() -> None:
    disk = fail("mkdir /tmp/go-build1: no space left on device", kind="infra", test="")
    build = fail("a.go:1:1: undefined: x", kind="build", test="")
    assertion, never = fail(), fail(NEVER)
    classify_all([disk, build, assertion, never])
    assert [f.category for f in (disk, build, assertion, never)] == [
        "infra",
        "infra",
        "infra",
        "flaky",
    ]
    assert assertion.reasons[0].startswith("the same log shows the job's environment failing")
    alone = [fail(), fail("a.go:1:1: undefined: x", kind="build", test="")]
    classify_all(alone, Signals())
    assert [f.category for f in alone] == ["unknown", "regression"]
    assert all(f.reasons for f in alone)


# -- the development set ------------------------------------------------------------------------


def test_dev_set(shared_dir: Path, tmp_path: Path) -> None:
    """Single-log classification of real failures against their labels (printed with -s).

    Floors only where one log can decide: every infra case is found as infra, and no real test
    failure (flaky or regression) is thrown away as infra; without history only a compile error
    makes a regression, so no flaky case may be called one. Many flaky cases stay `unknown`:
    one log cannot tell them from regressions, and that is the honest answer.
    """
    cases_file = shared_dir / "data" / "ci-failures" / "dev.jsonl"
    if not cases_file.exists():
        pytest.skip("no dev.jsonl in the shared folder")
    try:
        extract = importlib.import_module("supervisor.triage.extract").extract
    except ModuleNotFoundError:
        pytest.skip("supervisor.triage.extract does not exist yet")
    cases = [json.loads(line) for line in cases_file.read_text().splitlines() if line.strip()]
    matrix: collections.Counter[tuple[str, str]] = collections.Counter()
    misses = []
    for n, case in enumerate(cases):
        log = tmp_path / f"case{n}.log"
        log.write_text(case["log"])
        failures = list(extract(log))
        classify_all(failures)
        found = {f.category for f in failures}
        # one verdict per log: the most consequential category any failure got
        got = next((c for c in ("infra", "regression", "flaky", "unknown") if c in found), "none")
        matrix[case["kind_label"], got] += 1
        if case["kind_label"] == "infra" and "infra" not in found:
            misses.append(f"infra case {case['source']} got {sorted(found) or 'no failure'}")
        if case["kind_label"] != "infra" and "infra" in found:
            misses.append(f"{case['kind_label']} case {case['source']} classified infra")
        if case["kind_label"] == "flaky" and "regression" in found:
            misses.append(f"flaky case {case['source']} classified regression")
    columns = ("flaky", "regression", "infra", "unknown", "none")
    print("\nlabel \\ got  " + "".join(f"{c:>11}" for c in columns))
    for label in CATEGORIES:
        print(f"{label:<12} " + "".join(f"{matrix[label, c]:>11}" for c in columns))
    assert not misses, "\n".join(misses)
