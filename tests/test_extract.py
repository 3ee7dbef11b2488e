"""Extraction: every log format and failure kind, bad input, bounded memory, the dev-set figures.

The logs here are small hand-made ones in the style of the real formats (FORMATS.md), not copies
of the development cases; the dev-set test at the end measures those.
"""

# ruff: noqa: E501  (log lines are as long as the tools print them)

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from supervisor.triage.accuracy import score_file
from supervisor.triage.extract import extract
from supervisor.triage.model import KINDS, Failure


def run(text: str | bytes) -> list[Failure]:
    data = text.encode() if isinstance(text, str) else text
    failures = extract(io.BytesIO(data))
    for f in failures:
        assert f.kind in KINDS
        assert f.fingerprint == "" and f.category == "" and f.reasons == []
        assert len(f.excerpt) <= 4100
    return failures


def names(failures: list[Failure]) -> list[str]:
    return [f.test for f in failures]


def gha(text: str, start: int = 0) -> str:
    """Lines as the Actions log API returns them: each with an RFC 3339 timestamp."""
    out = []
    for i, line in enumerate(textwrap.dedent(text).splitlines()):
        out.append(f"2024-05-07T07:09:{(start + i) // 100 % 60:02d}.{i:07d}Z {line}\n")
    return "".join(out)


def dd(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


# -- GitHub Actions, pd-ut, go test -v -------------------------------------------------------------

PDUT_JOB = gha(
    """\
    ##[group]Run make ci-test-job JOB_INDEX=$WORKER_ID
    \x1b[36;1mmake ci-test-job JOB_INDEX=$WORKER_ID\x1b[0m
    shell: /usr/bin/bash -e {0}
    ##[endgroup]
    building task finish, parallelism=4, count=212, takes=1m2s
    [FAIL]  tests/server/cluster TestRegionLabelSuite
    err=exit status 1
    === RUN   TestRegionLabelSuite
    [2024/05/07 07:09:12.123 +00:00] [INFO] [server.go:241] ["start server"] [port=34567]
    === RUN   TestRegionLabelSuite/TestRegionLabel
        testutil.go:68:
            \tError Trace:\t/home/runner/work/pd/pd/pkg/utils/testutil/testutil.go:68
            \t            \t\t\t\t/home/runner/work/pd/pd/tests/server/cluster/label_test.go:142
            \t            \t\t\t\t/opt/hostedtoolcache/go/1.25.1/x64/src/testing/testing.go:1934
            \tError:      \tCondition never satisfied
            \tTest:       \tTestRegionLabelSuite/TestRegionLabel
    [2024/05/07 07:09:33.456 +00:00] [INFO] [server.go:300] ["stop server"]
    --- FAIL: TestRegionLabelSuite (21.05s)
        --- FAIL: TestRegionLabelSuite/TestRegionLabel (20.11s)
        --- PASS: TestRegionLabelSuite/TestRegionLabelSet (0.93s)
    FAIL
    run all tasks takes 4m12s
    ##[error]Process completed with exit code 1.
    """
)


def test_github_actions_pd_ut_wait_condition() -> None:
    [f] = run(PDUT_JOB)
    assert f.test == "TestRegionLabelSuite/TestRegionLabel"
    assert f.package == "tests/server/cluster"  # pd-ut's relative path, as given
    assert f.kind == "wait_condition"
    # the wait helper's frame is skipped: the test's own line identifies the failure
    assert f.signature == "Error: Condition never satisfied\nat label_test.go:142"
    assert f.line == 11
    assert "Error Trace:" in f.excerpt and "2024-05-07T" not in f.excerpt


def test_go_test_v_nested_subtests_report_the_deepest() -> None:
    log = gha(
        """\
        === RUN   TestMemberTestSuite
        === RUN   TestMemberTestSuite/TestMembers
            member_test.go:91:
                \tError Trace:\t/home/runner/work/pd/pd/tests/integrations/mcs/members/member_test.go:91
                \tError:      \tNot equal:
                \t            \texpected: 3
                \t            \tactual  : 2
                \tTest:       \tTestMemberTestSuite/TestMembers
        === RUN   TestMemberTestSuite/TestPrimary
        --- FAIL: TestMemberTestSuite (2.69s)
            --- FAIL: TestMemberTestSuite/TestMembers (0.06s)
            --- PASS: TestMemberTestSuite/TestPrimary (2.62s)
        FAIL
        coverage: 15.5% of statements in ../../...
        FAIL\tgithub.com/tikv/pd/tests/integrations/mcs/members\t3.290s
        """
    )
    [f] = run(log)
    assert f.test == "TestMemberTestSuite/TestMembers"
    assert f.package == "github.com/tikv/pd/tests/integrations/mcs/members"
    assert (f.kind, f.signature) == ("assertion", "Error: Not equal:\nat member_test.go:91")


def test_a_parent_that_failed_on_its_own_is_reported_too() -> None:
    log = dd(
        """
        --- FAIL: TestScheduler (1.20s)
            scheduler_test.go:40:
                \tError Trace:\t/home/runner/work/pd/pd/server/scheduler_test.go:40
                \tError:      \tShould be true
                \tTest:       \tTestScheduler
            --- FAIL: TestScheduler/balance (0.50s)
                scheduler_test.go:77: expected 3 operators, got 1
        FAIL
        FAIL\tgithub.com/tikv/pd/server\t1.5s
        """
    )
    fs = run(log)
    assert names(fs) == ["TestScheduler", "TestScheduler/balance"]
    assert fs[1].kind == "assertion"
    assert fs[1].signature == "scheduler_test.go:77: expected 3 operators, got 1"
    assert {f.package for f in fs} == {"github.com/tikv/pd/server"}


def test_plain_go_test_messages_after_the_fail_line() -> None:
    log = dd(
        """
        --- FAIL: TestWatchTimeout (5.72s)
            watch_test.go:83: took too long to receive watch events
        FAIL
        FAIL\tgo.etcd.io/etcd/tests/v3/integration\t6.201s
        ok  \tgo.etcd.io/etcd/tests/v3/common\t1.2s
        """
    )
    [f] = run(log)
    assert (f.test, f.package, f.kind) == (
        "TestWatchTimeout",
        "go.etcd.io/etcd/tests/v3/integration",
        "assertion",
    )
    assert f.signature == "watch_test.go:83: took too long to receive watch events"


def test_go_test_v_messages_before_the_fail_line() -> None:
    log = dd(
        """
        === RUN   TestLease
            lease_test.go:20: starting 3 members
        [2024/05/07 07:09:12.123 +00:00] [INFO] [lease.go:11] ["grant"]
            lease_test.go:51: lease 7 still alive after revoke
        --- FAIL: TestLease (1.10s)
        === RUN   TestOther
        --- PASS: TestOther (0.00s)
        FAIL
        """
    )
    [f] = run(log)
    assert f.test == "TestLease" and f.kind == "assertion"
    assert f.signature == "lease_test.go:51: lease 7 still alive after revoke"
    assert "lease 7 still alive" in f.excerpt


def test_old_go_tab_indented_messages() -> None:
    log = "=== RUN   TestQueue\n--- FAIL: TestQueue (15.08s)\n\tqueue_test.go:509: expected 10; got 9\n"
    [f] = run(log)
    assert (f.test, f.signature) == ("TestQueue", "queue_test.go:509: expected 10; got 9")


# -- test2json, gotestsum, JUnit, gocheck, pytest --------------------------------------------------


def ev(action: str, test: str = "", output: str = "", pkg: str = "github.com/tikv/pd/pkg/a") -> str:
    d: dict[str, object] = {"Time": "2024-01-02T03:04:05.1Z", "Action": action, "Package": pkg}
    if test:
        d["Test"] = test
    if output:
        d["Output"] = output
    return json.dumps(d) + "\n"


def test_test2json_failure() -> None:
    log = "".join(
        [
            ev("run", "TestA"),
            ev("output", "TestA", "=== RUN   TestA\n"),
            ev("output", "TestA", "    a_test.go:12: \n"),
            ev(
                "output",
                "TestA",
                "        \tError Trace:\t/home/runner/work/pd/pd/pkg/a/a_test.go:12\n",
            ),
            ev("output", "TestA", "        \tError:      \tShould be empty, but was [1]\n"),
            ev("output", "TestA", "        \tTest:       \tTestA\n"),
            ev("output", "TestA", "--- FAIL: TestA (0.00s)\n"),
            ev("fail", "TestA"),
            ev("output", "", "FAIL\n"),
            ev("output", "", "FAIL\tgithub.com/tikv/pd/pkg/a\t0.011s\n"),
            ev("fail"),
        ]
    )
    [f] = run(log)
    assert (f.test, f.package, f.kind) == ("TestA", "github.com/tikv/pd/pkg/a", "assertion")
    assert f.signature == "Error: Should be empty, but was [1]\nat a_test.go:12"


def test_test2json_timeout_blames_the_running_test_not_the_pass() -> None:
    pkg = "github.com/tikv/pd/pkg/b"
    log = "".join(
        [
            ev("run", "TestHello", pkg=pkg),
            ev("output", "TestHello", "panic: test timed out after 1s\n", pkg),
            ev("output", "TestHello", "running tests:\n", pkg),
            ev("output", "TestHello", "\tTestHello (1s)\n", pkg),
            ev("output", "TestHello", "\n", pkg),
            ev("output", "TestHello", "goroutine 17 [running]:\n", pkg),
            ev("pass", "TestHello", pkg=pkg),
            ev("output", "", f"FAIL\t{pkg}\t1.012s\n", pkg),
            ev("fail", pkg=pkg),
        ]
    )
    [f] = run(log)
    assert (f.test, f.package, f.kind) == ("TestHello", pkg, "timeout")
    assert f.signature == "panic: test timed out\nTestHello"


def test_gotestsum_summary_and_package_level_failure() -> None:
    log = dd(
        """
        ✖  pkg/etcd (11.8s)
        ✓  pkg/util (1.2s)

        === Failed
        === FAIL: pkg/etcd TestWatchLoop (0.12s)
            watch_test.go:47:
                \tError Trace:\twatch_test.go:47
                \tError:      \tReceived unexpected error:
                \t            \tcontext deadline exceeded
                \tTest:       \tTestWatchLoop

        === FAIL: pkg/sink  (0.00s)
        === CONT
            testing.go:1312: race detected during execution of test
        FAIL
        FAIL\tgithub.com/pingcap/tiflow/pkg/sink\t11.800s

        DONE 200 tests, 2 failures in 31.4s
        """
    )
    fs = run(log)
    assert [(f.test, f.package, f.kind) for f in fs] == [
        ("TestWatchLoop", "pkg/etcd", "assertion"),
        ("", "github.com/pingcap/tiflow/pkg/sink", "race"),
    ]
    assert fs[0].signature == (
        "Error: Received unexpected error:\ncontext deadline exceeded\nat watch_test.go:47"
    )


def test_junit_xml() -> None:
    log = dd(
        """
        <?xml version="1.0" encoding="UTF-8"?>
        <testsuites>
          <testsuite name="github.com/tikv/pd/server/api" tests="3" failures="1">
            <testcase classname="github.com/tikv/pd/server/api" name="TestOK" time="0.1"></testcase>
            <testcase classname="github.com/tikv/pd/server/api" name="TestStore/TestDelete" time="2">
              <failure message="Failed" type="">=== RUN   TestStore/TestDelete
            store_test.go:88: store 3 &#34;tombstone&#34; still listed
        --- FAIL: TestStore/TestDelete (2.00s)
        </failure>
            </testcase>
          </testsuite>
        </testsuites>
        """
    )
    [f] = run(log)
    assert (f.test, f.package, f.kind) == (
        "TestStore/TestDelete",
        "github.com/tikv/pd/server/api",
        "assertion",
    )
    assert f.signature == 'store_test.go:88: store 3 "tombstone" still listed'


def test_gocheck_failures_replace_the_runner_test() -> None:
    log = dd(
        """
        [2019-10-12T03:32:04.305Z] ----------------------------------------------------------------------
        [2019-10-12T03:32:04.305Z] FAIL: leader_test.go:38: testLeaderSuite.TestLeader
        [2019-10-12T03:32:04.305Z]
        [2019-10-12T03:32:04.305Z] leader_test.go:56:
        [2019-10-12T03:32:04.305Z]     c.Assert(leader.GetName(), Equals, "pd2")
        [2019-10-12T03:32:04.305Z] ... obtained string = "pd1"
        [2019-10-12T03:32:04.305Z] ... expected string = "pd2"
        [2019-10-12T03:32:04.305Z]
        [2019-10-12T03:32:04.305Z] OOPS: 41 passed, 1 FAILED
        [2019-10-12T03:32:04.305Z] --- FAIL: Test (12.31s)
        [2019-10-12T03:32:04.305Z] FAIL
        [2019-10-12T03:32:04.305Z] FAIL\tgithub.com/pingcap/pd/server\t12.5s
        """
    )
    [f] = run(log)
    assert (f.test, f.package, f.kind) == (
        "testLeaderSuite.TestLeader",
        "github.com/pingcap/pd/server",
        "assertion",
    )
    assert f.signature == 'leader_test.go:56: c.Assert(leader.GetName(), Equals, "pd2")'


def test_pytest_report() -> None:
    log = dd(
        """
        ============================= test session starts ==============================
        collected 3 items

        tests/test_api.py .F.                                                    [100%]

        =================================== FAILURES ===================================
        ___________________________ TestStores.test_delete ____________________________

            def test_delete(self):
        >       assert resp.status == 200
        E       assert 404 == 200

        tests/test_api.py:31: AssertionError
        =========================== short test summary info ============================
        FAILED tests/test_api.py::TestStores::test_delete - assert 404 == 200
        ========================= 1 failed, 2 passed in 0.12s ==========================
        """
    )
    [f] = run(log)
    assert (f.test, f.package, f.kind) == (
        "TestStores::test_delete",
        "tests/test_api.py",
        "assertion",
    )
    assert f.signature == "assert 404 == 200\nat test_api.py:31"


def test_junit_one_line_failures_and_a_failure_far_from_its_testcase() -> None:
    log = dd(
        """
        <testsuite name="pkg/tso" tests="2" failures="2">
        <testcase classname="pkg/tso" name="TestAllocator"><failure message="tso fell back">alloc_test.go:12: ts 5 &lt; 7</failure></testcase>
        <testcase classname="pkg/tso" name="TestSync" time="1.0">
        <failure message="Failed" type="">    sync_test.go:40: leader not elected
        </failure>
        </testcase>
        </testsuite>
        """
    )
    fs = run(log)
    assert [(f.test, f.package, f.signature) for f in fs] == [
        ("TestAllocator", "pkg/tso", "alloc_test.go:12: ts 5 < 7"),
        ("TestSync", "pkg/tso", "sync_test.go:40: leader not elected"),
    ]


def test_gotestsum_testname_format_and_bazel_results() -> None:
    log = dd(
        """
        PASS pkg/core.TestRegionInfo (0.01s)
        FAIL pkg/core.TestStoreStats (0.20s)
        //pkg/keyspace:keyspace_test                                           FAILED in 12.1s
        """
    )
    fs = run(log)
    assert [(f.test, f.package, f.kind) for f in fs] == [
        ("TestStoreStats", "pkg/core", "fail"),
        ("", "//pkg/keyspace:keyspace_test", "fail"),
    ]


def test_bazel_test_output_header_gives_the_package() -> None:
    log = dd(
        """
        ==================== Test output for //pkg/keyspace:keyspace_test (shard 3 of 8):
        --- FAIL: TestKeyspaceMeta (0.01s)
            meta_test.go:31: meta not found
        """
    )
    [f] = run(log)
    assert (f.test, f.package) == ("TestKeyspaceMeta", "//pkg/keyspace:keyspace_test")


# -- failure kinds ---------------------------------------------------------------------------------


def test_timeout_reports_the_deepest_running_tests() -> None:
    log = gha(
        """\
        === RUN   TestTSOSuite
        === RUN   TestTSOSuite/TestConcurrent
        panic: test timed out after 10m0s
        running tests:
        \tTestTSOSuite (9m59s)
        \tTestTSOSuite/TestConcurrent (9m58s)

        goroutine 2301 [running]:
        testing.(*M).startAlarm.func1()
        \t/opt/hostedtoolcache/go/1.25.1/x64/src/testing/testing.go:2484 +0x394
        created by time.goFunc
        \t/opt/hostedtoolcache/go/1.25.1/x64/src/time/sleep.go:215 +0x2d

        goroutine 1 [chan receive, 9 minutes]:
        testing.(*T).Run(0xc000502a80, {0x1d5e1a1, 0xd}, 0x1e55a38)
        FAIL\tgithub.com/tikv/pd/tests/server/tso\t600.123s
        """
    )
    [f] = run(log)
    assert (f.test, f.package, f.kind) == (
        "TestTSOSuite/TestConcurrent",
        "github.com/tikv/pd/tests/server/tso",
        "timeout",
    )
    assert f.signature == "panic: test timed out\nTestTSOSuite/TestConcurrent"
    assert f.line == 3


def test_old_timeout_without_running_tests_uses_the_last_run_line() -> None:
    log = dd(
        """
        === RUN   TestSlow
        panic: test timed out after 15m0s

        goroutine 31 [running]:
        testing.(*M).startAlarm.func1()
        \t/usr/local/go/src/testing/testing.go:1700 +0xe5
        FAIL\tgithub.com/tikv/pd/server\t900.1s
        """
    )
    [f] = run(log)
    assert (f.test, f.kind, f.signature) == ("TestSlow", "timeout", "panic: test timed out")


RACE = """\
==================
WARNING: DATA RACE
Write at 0x00c0014f5b30 by goroutine 513:
  github.com/tikv/pd/pkg/mcs/resourcemanager/server.(*Manager).Init()
      /home/runner/work/pd/pd/pkg/mcs/resourcemanager/server/manager.go:132 +0x5d1
  github.com/tikv/pd/server.(*Server).campaignLeader()
      /home/runner/work/pd/pd/server/server.go:1772 +0x1742

Previous read at 0x00c0014f5b30 by goroutine 29900:
  github.com/tikv/pd/pkg/mcs/resourcemanager/server.(*Manager).flush()
      /home/runner/work/pd/pd/pkg/mcs/resourcemanager/server/manager.go:480 +0x12ed

Goroutine 513 (running) created at:
  github.com/tikv/pd/server.(*Server).startServerLoop()
      /home/runner/work/pd/pd/server/server.go:658 +0x33
==================
"""


def test_race_in_go_test_v_output() -> None:
    log = (
        "=== RUN   TestResourceManager\n"
        + RACE
        + dd(
            """
            === NAME  TestResourceManager
                testing.go:1465: race detected during execution of test
            --- FAIL: TestResourceManager (3.01s)
            FAIL
            FAIL\tgithub.com/tikv/pd/pkg/mcs/resourcemanager/server\t4.1s
            """
        )
    )
    [f] = run(log)
    assert (f.test, f.package, f.kind) == (
        "TestResourceManager",
        "github.com/tikv/pd/pkg/mcs/resourcemanager/server",
        "race",
    )
    assert f.signature == (
        "WARNING: DATA RACE\n"
        "write: github.com/tikv/pd/pkg/mcs/resourcemanager/server.(*Manager).Init\n"
        "previous read: github.com/tikv/pd/pkg/mcs/resourcemanager/server.(*Manager).flush"
    )
    assert f.line == 3  # the WARNING line


def test_race_report_alone_names_no_test() -> None:
    [f] = run(RACE)
    assert (f.test, f.kind) == ("", "race")


def test_goleak_fails_the_package_not_a_test() -> None:
    log = dd(
        """
        === RUN   TestKeyspace
        --- PASS: TestKeyspace (0.20s)
        PASS
        goleak: Errors on successful test run: found unexpected goroutines:
        [Goroutine 103 in state select, with github.com/tikv/pd/pkg/keyspace.(*Manager).watch on top of the stack:
        goroutine 103 [select]:
        github.com/tikv/pd/pkg/keyspace.(*Manager).watch(0xc000464580)
        \t/home/runner/work/pd/pd/pkg/keyspace/keyspace.go:292 +0xad
        created by github.com/tikv/pd/pkg/keyspace.NewManager in goroutine 7
        \t/home/runner/work/pd/pd/pkg/keyspace/keyspace.go:34 +0x8d
        ]
        FAIL\tgithub.com/tikv/pd/pkg/keyspace\t1.3s
        """
    )
    [f] = run(log)
    assert (f.test, f.package, f.kind) == ("", "github.com/tikv/pd/pkg/keyspace", "leak")
    assert f.signature == (
        "goleak: found unexpected goroutines\ngithub.com/tikv/pd/pkg/keyspace.(*Manager).watch"
    )


def test_goleak_in_a_pd_ut_process() -> None:
    log = dd(
        """
        [FAIL]  pkg/keyspace TestKeyspace
        err=exit status 1
        === RUN   TestKeyspace
        --- PASS: TestKeyspace (0.20s)
        PASS
        goleak: Errors on successful test run: found unexpected goroutines:
        [Goroutine 9 in state IO wait, with internal/poll.runtime_pollWait on top of the stack:
        ]
        """
    )
    [f] = run(log)
    assert (f.test, f.package, f.kind) == ("", "pkg/keyspace", "leak")


def test_panic_after_the_fail_lines() -> None:
    log = dd(
        """
        === RUN   TestCluster
        === RUN   TestCluster/TestBootstrap
        --- FAIL: TestCluster (0.01s)
            --- FAIL: TestCluster/TestBootstrap (0.00s)
        panic: runtime error: invalid memory address or nil pointer dereference [recovered]
        \tpanic: runtime error: invalid memory address or nil pointer dereference
        [signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x1a2b3c]

        goroutine 88 [running]:
        testing.tRunner.func1.2({0x1c4e0a0, 0x2d1b5c0})
        \t/usr/local/go/src/testing/testing.go:1631 +0x24a
        panic({0x1c4e0a0?, 0x2d1b5c0?})
        \t/usr/local/go/src/runtime/panic.go:770 +0x132
        github.com/tikv/pd/server/cluster.(*RaftCluster).GetStore(...)
        \t/home/runner/work/pd/pd/server/cluster/cluster.go:1201
        github.com/tikv/pd/server/cluster.(*clusterTestSuite).TestBootstrap(0xc000a1c000)
        \t/home/runner/work/pd/pd/server/cluster/cluster_test.go:77 +0x55
        exit status 2
        FAIL\tgithub.com/tikv/pd/server/cluster\t0.1s
        """
    )
    [f] = run(log)
    assert (f.test, f.package, f.kind) == (
        "TestCluster/TestBootstrap",
        "github.com/tikv/pd/server/cluster",
        "panic",
    )
    assert f.signature == (
        "panic: runtime error: invalid memory address or nil pointer dereference\n"
        "at github.com/tikv/pd/server/cluster.(*RaftCluster).GetStore"
    )


def test_panic_without_a_test_frame_goes_to_the_fail_lines_before_it() -> None:
    log = dd(
        """
        [FAIL]  pkg/schedule TestSchedulerSuite
        err=exit status 2
        === RUN   TestSchedulerSuite/TestBalance
        --- FAIL: TestSchedulerSuite (0.01s)
            --- FAIL: TestSchedulerSuite/TestBalance (0.00s)
        panic: assignment to entry in nil map [recovered]
        \tpanic: assignment to entry in nil map

        goroutine 88 [running]:
        github.com/tikv/pd/pkg/schedule.(*Balancer).record(...)
        \t/home/runner/work/pd/pd/pkg/schedule/balancer.go:88
        exit status 2
        """
    )
    [f] = run(log)
    assert (f.test, f.package, f.kind) == (
        "TestSchedulerSuite/TestBalance",
        "pkg/schedule",
        "panic",
    )


def test_testify_suite_panic() -> None:
    log = dd(
        """
        === RUN   TestAPISuite/TestGetRegion
            panic.go:262: test panicked: runtime error: index out of range [3] with length 3
                goroutine 71 [running]:
                runtime/debug.Stack()
                \t/usr/local/go/src/runtime/debug/stack.go:26 +0x5e
                github.com/stretchr/testify/suite.failOnPanic(0xc000583040, {0x1e3c6a0, 0x3a05b80})
                \t/home/runner/go/pkg/mod/github.com/stretchr/testify@v1.10.0/suite/suite.go:89 +0x3b
                panic({0x1e3c6a0?, 0x3a05b80?})
                \t/usr/local/go/src/runtime/panic.go:770 +0x132
                github.com/tikv/pd/server/api.(*regionHandler).GetRegion(0xc0001, {0x1, 0x2})
                \t/home/runner/work/pd/pd/server/api/region.go:123 +0x77
        --- FAIL: TestAPISuite (0.30s)
            --- FAIL: TestAPISuite/TestGetRegion (0.01s)
        FAIL
        """
    )
    [f] = run(log)
    assert (f.test, f.kind) == ("TestAPISuite/TestGetRegion", "panic")
    assert f.signature == (
        "panic: runtime error: index out of range [3] with length 3\n"
        "at github.com/tikv/pd/server/api.(*regionHandler).GetRegion"
    )


def test_panic_in_a_goroutine_blames_the_running_test() -> None:
    log = dd(
        """
        === RUN   TestSyncer
        === RUN   TestSyncer/TestReconnect
        panic: close of closed channel

        goroutine 412 [running]:
        github.com/tikv/pd/pkg/syncer.(*RegionSyncer).stop(...)
        \t/home/runner/work/pd/pd/pkg/syncer/server.go:201 +0x3c
        created by github.com/tikv/pd/pkg/syncer.(*RegionSyncer).Start in goroutine 400
        \t/home/runner/work/pd/pd/pkg/syncer/server.go:120 +0x1e5
        FAIL\tgithub.com/tikv/pd/pkg/syncer\t2.0s
        """
    )
    [f] = run(log)
    assert (f.test, f.kind) == ("TestSyncer/TestReconnect", "panic")
    assert f.signature == (
        "panic: close of closed channel\nat github.com/tikv/pd/pkg/syncer.(*RegionSyncer).stop"
    )


def test_build_failure() -> None:
    log = gha(
        """\
        # github.com/tikv/pd/server/api [github.com/tikv/pd/server/api.test]
        server/api/region_test.go:412:3: undefined: mustRegionHeartbeat
        server/api/region_test.go:430:12: cannot use r (variable of type *core.RegionInfo) as int value
        FAIL\tgithub.com/tikv/pd/server/api [build failed]
        FAIL
        ##[error]Process completed with exit code 2.
        """
    )
    [f] = run(log)
    assert (f.test, f.package, f.kind) == ("", "github.com/tikv/pd/server/api", "build")
    assert f.signature == "build: region_test.go: undefined: mustRegionHeartbeat"


@pytest.mark.parametrize(
    ("text", "why"),
    [
        (
            "##[error]The runner has received a shutdown signal. This can happen when ...",
            "shutdown",
        ),
        ("##[error]The operation was canceled.", "cancelled"),
        ("##[error]Process completed with exit code 143.", "exit code 137/143"),
        ("The hosted runner: GitHub Actions 12 lost communication with the server.", "lost"),
        ("compile: writing output: write $WORK/b3076/_pkg_.a: no space left on device", "space"),
        ("make: *** [Makefile:12: test] Killed", "killed"),
        (
            'go: github.com/pingcap/kvproto@v0.0.0-20240403: Get "https://proxy.golang.org/x": '
            "dial tcp 142.250.1.1:443: i/o timeout",
            "module download",
        ),
    ],
)
def test_infra_failures(text: str, why: str) -> None:
    log = gha(f"##[group]Run make test\nmake test\n##[endgroup]\n{text}\n")
    fs = run(log)
    assert [(f.test, f.kind) for f in fs] == [("", "infra")]
    assert why in fs[0].signature


def test_infra_named_test() -> None:
    log = dd(
        """
        [FAIL]  tests/server/api TestStoreSuite
        err=signal: killed
        === RUN   TestStoreSuite
        """
    )
    [f] = run(log)
    assert (f.test, f.package, f.kind) == ("TestStoreSuite", "tests/server/api", "infra")


def test_port_collision_in_an_assertion_is_infra() -> None:
    log = dd(
        """
            server_test.go:81:
                \tError Trace:\tserver_test.go:81
                \tError:      \tReceived unexpected error:
                \t            \tlisten tcp 0.0.0.0:4000: bind: address already in use
                \tTest:       \tTestStartServer
        --- FAIL: TestStartServer (0.01s)
        """
    )
    [f] = run(log)
    assert (f.test, f.kind) == ("TestStartServer", "infra")


def test_a_failed_step_with_nothing_recognised() -> None:
    log = gha("lint: found 3 issues\n##[error]Process completed with exit code 2.\n")
    [f] = run(log)
    assert (f.test, f.kind, f.signature) == ("", "fail", "exit code 2")


def test_a_passing_log_has_no_failures() -> None:
    log = gha(
        """\
        === RUN   TestA
            a_test.go:10: starting
        --- PASS: TestA (0.00s)
        PASS
        ok  \tgithub.com/tikv/pd/pkg/a\t0.1s
        """
    )
    assert run(log) == []


# -- pasting damage --------------------------------------------------------------------------------


def test_pasted_without_timestamps_tabs_as_spaces_and_line_numbers() -> None:
    log = dd(
        """
        4120 === RUN   TestRegionSyncer
        4121     region_syncer_test.go:294:
        4122                 Error Trace:    /home/prow/go/src/github.com/tikv/pd/tests/server/region_syncer/region_syncer_test.go:294
        4123                 Error:          Not equal:
        4124                                 expected: "pd1"
        4125                                 actual  : "pd2"
        4126                 Test:           TestRegionSyncer
        4127 --- FAIL: TestRegionSyncer (38.21s)
        """
    )
    [f] = run(log)
    assert (f.test, f.package, f.kind) == (
        "TestRegionSyncer",
        "tests/server/region_syncer",
        "assertion",
    )
    assert f.signature == "Error: Not equal:\nat region_syncer_test.go:294"


def test_viewer_anchors_inside_hex_values() -> None:
    log = dd(
        """
        panic: boom

        goroutine 7 [running]:
        github.com/tikv/pd/pkg/a.f(0xc00[12](https://github.com/tikv/pd/actions/runs/1/job/2#step:5:13)3)
        \t/home/runner/work/pd/pd/pkg/a/a.go:12 +0x5[25](https://github.com/tikv/pd/actions/runs/1/job/2#step:5:26)
        """
    )
    [f] = run(log)
    assert "+0x525" in f.excerpt and "](" not in f.excerpt
    assert f.signature == "panic: boom\nat github.com/tikv/pd/pkg/a.f"


def test_jenkins_and_gh_cli_prefixes() -> None:
    jenkins = "".join(
        f"[2022-03-17T07:56:44.163Z] {x}\n"
        for x in ["--- FAIL: TestJ (0.1s)", "    j_test.go:3: bad"]
    )
    cli = "".join(
        f"chunks (3, Unit Test(3))\tRun make ci-test-job\t2024-01-01T00:00:00.0000000Z {x}\n"
        for x in ["--- FAIL: TestK (0.1s)", "    k_test.go:3: bad"]
    )
    assert [(f.test, f.signature) for f in run(jenkins)] == [("TestJ", "j_test.go:3: bad")]
    assert [(f.test, f.signature) for f in run(cli)] == [("TestK", "k_test.go:3: bad")]


def test_pasted_with_all_indentation_lost() -> None:
    log = dd(
        """
        region_test.go:88:
        Error Trace: /home/runner/work/pd/pd/tests/server/region/region_test.go:88
        Error: Not equal:
        expected: 3
        actual : 2
        Test: TestRegionSuite/TestCount
        --- FAIL: TestRegionSuite (1.1s)
        """
    )
    [f] = run(log)
    assert (f.test, f.signature) == (
        "TestRegionSuite/TestCount",
        "Error: Not equal:\nat region_test.go:88",
    )


def test_go_vet_failure_and_a_byte_order_mark() -> None:
    log = "\ufeff" + dd(
        """
        # github.com/tikv/pd/pkg/core
        vet: pkg/core/region_test.go:77:2: fmt.Sprintf format %d has arg name of wrong type string
        FAIL\tgithub.com/tikv/pd/pkg/core [build failed]
        """
    )
    [f] = run(log)
    assert (f.test, f.package, f.kind) == ("", "github.com/tikv/pd/pkg/core", "build")
    assert f.signature.startswith("build: region_test.go: fmt.Sprintf format %d")


def test_a_stack_frame_names_the_test_of_a_pasted_fragment() -> None:
    log = dd(
        """
          github.com/tikv/pd/tests/server/api_test.(*ruleTestSuite).TestBatch()
              /home/runner/work/pd/pd/tests/server/api/rule_test.go:412 +0x6f
          testing.tRunner()
              /opt/hostedtoolcache/go/1.21.8/x64/src/testing/testing.go:1595 +0x261
        ==================
        """
    )
    [f] = run(log)
    assert (f.test, f.package, f.kind) == (
        "TestBatch",
        "github.com/tikv/pd/tests/server/api",
        "race",
    )


def test_a_fragment_that_ends_while_its_test_runs() -> None:
    log = dd(
        """
        === RUN   TestLeaderElection/higher_priority_wins
        I0728 14:09:01.793 55926 controller.go:104] Workers: 1
        I0728 14:09:01.893 55926 controller.go:431] lease candidate updated
        """
    )
    [f] = run(log)
    assert (f.test, f.kind, f.line) == ("TestLeaderElection/higher_priority_wins", "fail", 1)


def test_a_fragment_with_only_a_test_message() -> None:
    [f] = run("TestDrain\n\ndrain_test.go:51: expected 0 pods left, got 2\n")
    assert (f.test, f.kind, f.signature) == (
        "TestDrain",
        "assertion",
        "drain_test.go:51: expected 0 pods left, got 2",
    )


# -- bad input -------------------------------------------------------------------------------------

FAILING = "--- FAIL: TestBad (0.1s)\n    bad_test.go:9: broken\nFAIL\n"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\n\n\n",
        os.urandom(200_000),
        b"\x00" * 100_000,
        b"\xff\xfe\xfa" * 50_000 + b"\n",
        b"x" * 300_000,  # one long line with no newline
    ],
)
def test_junk_gives_no_failure_and_no_crash(data: bytes) -> None:
    assert run(data) == []


def test_failures_survive_junk_around_them() -> None:
    junk = os.urandom(100_000).replace(b"FAIL", b"....").replace(b"panic", b".....")
    data = junk + b"\n" + FAILING.encode() + b"\xff\xfe\x00garbage\n" + junk
    [f] = run(data)
    assert (f.test, f.signature) == ("TestBad", "bad_test.go:9: broken")


def test_invalid_utf8_nul_bytes_and_crlf() -> None:
    data = FAILING.replace("broken", "bro\udcffken").encode("utf-8", "surrogateescape")
    data = data.replace(b"\n", b"\r\n").replace(b"FAIL\r\n", b"F\x00AIL\r\n")
    [f] = run(data)
    assert f.test == "TestBad" and "\r" not in f.excerpt
    assert f.signature == "bad_test.go:9: bro\ufffdken"


def test_truncated_last_line() -> None:
    [f] = run(b"--- FAIL: TestCut (0.1s)\n    cut_test.go:1: half a li")
    assert f.test == "TestCut" and f.signature == "cut_test.go:1: half a li"


def test_path_and_file_object_give_the_same(tmp_path: Path) -> None:
    p = tmp_path / "job.log"
    p.write_text(PDUT_JOB)
    with p.open("rb") as fh:
        assert extract(p) == extract(fh) == extract(str(p))


def test_a_stream_of_unknown_size() -> None:
    """A pipe cannot be measured: its start is read line by line, and `##[error]` is a trigger."""
    data = (
        noise(600)
        + PDUT_JOB.encode()
        + noise(300)
        + gha("##[error]The operation was canceled.\n").encode()
    )
    r, w = os.pipe()

    def feed() -> None:
        with os.fdopen(w, "wb") as sink:
            sink.write(data)

    writer = threading.Thread(target=feed)
    writer.start()
    with os.fdopen(r, "rb") as stream:
        fs = extract(stream)
    writer.join()
    assert [(f.test, f.kind) for f in fs] == [
        ("TestRegionLabelSuite/TestRegionLabel", "wait_condition"),
        ("", "infra"),
    ]


def test_excerpt_and_number_of_failures_are_bounded() -> None:
    many = "".join(f"--- FAIL: TestN{i} (0.0s)\n    n_test.go:1: x\n" for i in range(3000))
    diff = "".join(f"        \t            \t+line {i}\n" for i in range(20_000))
    huge = (
        dd(
            """
            a_test.go:1:
                \tError Trace:\ta_test.go:1
                \tError:      \tNot equal:
        """
        )
        + diff
        + "        \tTest:       \tTestHuge\n"
    )
    fs = run(many)
    assert len(fs) == 1000
    [f] = run(huge)
    assert f.test == "TestHuge" and len(f.excerpt) < 4100


# -- big logs: streamed in bounded memory ----------------------------------------------------------

NOISE = (
    "2024-03-06T03:30:16.9792939Z [2024/03/06 03:30:16.979 +00:00] [INFO] [server.go:1234] "
    '["region heartbeat"] [region-id=123] [error="dial tcp 127.0.0.1:2379: connect: refused"]\n'
    "2024-03-06T03:30:16.9792939Z === RUN   TestFoo/TestBar\n"
    "2024-03-06T03:30:16.9792939Z --- PASS: TestFoo/TestBar (0.01s)\n"
)


def write_big(path: Path, mb: int) -> None:
    block = NOISE * ((1 << 20) // len(NOISE))
    with path.open("w") as fh:
        for i in range(mb):
            fh.write(block)
            if i % 10 == 5:
                fh.write(f"2024-03-06T03:30:16.9792939Z --- FAIL: TestBig{i} (0.1s)\n")
                fh.write(f"2024-03-06T03:30:16.9792939Z     big_test.go:{i}: broken {i}\n")
        fh.write(PDUT_JOB)


# VmHWM (Linux): the peak RSS of this process image (ru_maxrss would count the parent's pages
# the child had before exec)
PEAK_SCRIPT = """
import sys
from supervisor.triage.extract import extract
def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
base = hwm()
fs = extract(sys.argv[1])
print(len(fs), base, hwm(), ",".join(f.test for f in fs))
"""


def peak_rss(path: Path) -> tuple[list[str], int, int]:
    """(failing tests, KB of RSS before, peak KB of RSS) of an extraction in a fresh process."""
    out = subprocess.run(
        [sys.executable, "-c", PEAK_SCRIPT, str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    ).stdout.split()
    return out[3].split(","), int(out[1]), int(out[2])


def check_big(tmp_path: Path, mb: int) -> None:
    p = tmp_path / "big.log"
    write_big(p, mb)
    tests, base, peak = peak_rss(p)
    want = [f"TestBig{i}" for i in range(mb) if i % 10 == 5]
    assert tests == [*want, "TestRegionLabelSuite/TestRegionLabel"]
    assert peak - base < 40_000, f"extraction grew RSS by {(peak - base) // 1024} MB"
    assert peak < 64 * 1024, f"peak RSS {peak // 1024} MB"


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmHWM from /proc")
def test_a_200_mb_log_in_bounded_memory(tmp_path: Path) -> None:
    """About a second: the log is streamed, mostly at the speed of a substring search."""
    check_big(tmp_path, 200)


# -- the fast path -------------------------------------------------------------------------------

# Tests whose log can only be read line by line: a format known from the file's first bytes, a
# fragment with no failure line at all, an infrastructure line (read at a log's end), bad bytes.
LINE_BY_LINE_ONLY = {
    "test_junit_xml",
    "test_junit_one_line_failures_and_a_failure_far_from_its_testcase",
    "test_a_failed_step_with_nothing_recognised",
    "test_a_stack_frame_names_the_test_of_a_pasted_fragment",
    "test_a_fragment_that_ends_while_its_test_runs",
    "test_a_fragment_with_only_a_test_message",
}


def noise(kb: int) -> bytes:
    """Passing `go test -v` output and log lines, ending with a finished test."""
    one = (
        "=== RUN   TestNoise\n"
        "=== RUN   TestNoise/TestQuiet\n"
        '[2024/03/06 03:30:16.979 +00:00] [INFO] [server.go:1234] ["heartbeat"] [region-id=1]\n'
        '[2024/03/06 03:30:16.979 +00:00] [WARN] [client.go:88] ["dial failed"] '
        '[error="dial tcp 127.0.0.1:2379: connect: connection refused"]\n'
        "    noise_test.go:12: waiting for leader\n"
        "    --- PASS: TestNoise/TestQuiet (0.01s)\n"
        "--- PASS: TestNoise (0.02s)\n"
    )
    return (one * (kb * 1024 // len(one) + 1)).encode()


def test_the_fast_path_finds_what_line_by_line_reading_finds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every log of the tests above, in the middle of a log too big to be read line by line,
    gives the same failures (the trigger search, look-backs and scopes stand in for reading
    every line)."""
    before, after = noise(700), noise(400)
    shift = before.count(b"\n")

    def in_noise(text: str | bytes) -> list[Failure]:
        data = text.encode() if isinstance(text, str) else text
        failures = extract(io.BytesIO(before + data + b"\n" + after))
        for f in failures:
            f.line -= shift
        return failures

    module = sys.modules[__name__]
    monkeypatch.setattr(module, "run", in_noise)
    ran = 0
    for name, fn in list(vars(module).items()):
        if (
            not name.startswith("test_")
            or name in LINE_BY_LINE_ONLY
            or name == "test_the_fast_path_finds_what_line_by_line_reading_finds"
        ):
            continue
        if getattr(fn, "pytestmark", None) or fn.__code__.co_argcount:
            continue  # parametrized, or needs a fixture
        fn()
        ran += 1
    assert ran >= 30


# -- the development set ---------------------------------------------------------------------------


def test_dev_set_accuracy(shared_dir: Path) -> None:
    cases = shared_dir / "data" / "ci-failures" / "dev.jsonl"
    if not cases.exists():
        pytest.skip("no dev.jsonl in the shared folder")
    score = score_file(cases)
    misses = [
        f"{c.source}: missed {c.missed} wrong {c.wrong}"
        for c in score.cases
        if c.counted and (c.missed or c.wrong)
    ]
    assert score.expected >= 20
    assert score.recall >= 0.95, "\n".join(misses)
    assert score.precision >= 0.95, "\n".join(misses)
    no_infra = [c.source for c in score.infra_cases if "infra" not in c.kinds]
    assert score.infra_cases and not no_infra
