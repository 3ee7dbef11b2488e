"""Fingerprints: one failure, one id, whichever CI system, machine, day or paste it came from."""

# ruff: noqa: E501  (real log lines are longer than code lines)

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from supervisor.triage.classify import classify
from supervisor.triage.fingerprint import (
    fingerprint,
    identity,
    marker_block,
    normalize,
    package_key,
    parse_marker_block,
)
from supervisor.triage.model import Failure

# One testify failure of a pd test, as four different places print it.
GITHUB_ACTIONS = """\
2024-03-06T03:30:16.9792939Z     scheduler_test.go:871:\x20
2024-03-06T03:30:16.9793236Z         \tError Trace:\t/home/runner/work/pd/pd/tests/server/api/scheduler_test.go:871
2024-03-06T03:30:16.9793480Z         \t            \t\t\t\t/home/runner/work/pd/pd/pkg/utils/testutil/api_check.go:166
2024-03-06T03:30:16.9793560Z         \t            \t\t\t\t/opt/hostedtoolcache/go/1.21.8/x64/src/testing/testing.go:1595
2024-03-06T03:30:16.9793707Z         \tError:      \tReceived unexpected error:
2024-03-06T03:30:16.9793942Z         \t            \tGet "http://127.0.0.1:34567/pd/api/v1/config": dial tcp 127.0.0.1:34567: connect: connection refused
2024-03-06T03:30:16.9794011Z         \t            \tgoroutine 123 at 0xc000123456 after (0.05s) in /tmp/TestConfig1234567/001
2024-03-06T03:30:16.9794200Z         \tTest:       \tTestAPI/TestConfig
"""
PROW = """\
    scheduler_test.go:871:
        Error Trace:    /home/prow/go/src/github.com/tikv/pd/tests/server/api/scheduler_test.go:871
                        /home/prow/go/src/github.com/tikv/pd/pkg/utils/testutil/api_check.go:166
                        /home/prow/go/pkg/mod/golang.org/toolchain@v0.0.1-go1.22.2.linux-amd64/src/testing/testing.go:1689
        Error:          Received unexpected error:
                        Get "http://127.0.0.1:41999/pd/api/v1/config": dial tcp 127.0.0.1:41999: connect: connection refused
                        goroutine 98765 at 0xc00abcdef0 after (1.234s) in /tmp/TestConfig7654321/001
        Test:           TestAPI/TestConfig
"""
JENKINS = "".join(
    f"[2019-10-12T03:32:04.305Z] {line}\n"
    for line in PROW.replace(
        "/home/prow/go/src/github.com/tikv/pd/",
        "/home/jenkins/agent/workspace/pd_unit/go/src/github.com/tikv/pd/",
    ).splitlines()
)
# Pasted from GitHub's log viewer: timestamps gone, tabs turned into spaces, anchors inside hex,
# and a web viewer's line-number prefixes.
PASTED = """\
668339     scheduler_test.go:871:
668340         Error Trace:  /__w/pd/pd/tests/server/api/scheduler_test.go:871
668341                       /__w/pd/pd/pkg/utils/testutil/api_check.go:166
668342                       /usr/local/go/src/testing/testing.go:1648
668343         Error:        Received unexpected error:
668344                       Get "http://127.0.0.1:38001/pd/api/v1/config": dial tcp 127.0.0.1:38001: connect: connection refused
668345                       goroutine 7 at 0xc0001[23](https://github.com/tikv/pd/actions/runs/1/job/2#step:5:26)456 after (0.01s) in /tmp/TestConfig99999999/001
668346         Test:         TestAPI/TestConfig
"""


def failure(
    signature: str,
    package: str = "github.com/tikv/pd/tests/server/api",
    test: str = "TestAPI/TestConfig",
    kind: str = "assertion",
) -> Failure:
    return Failure(test=test, package=package, kind=kind, signature=signature, excerpt=signature)


FP = re.compile(r"fp-[0-9a-f]{12}")


@pytest.mark.parametrize("text", [PROW, JENKINS, PASTED], ids=["prow", "jenkins", "pasted"])
def test_the_same_failure_from_other_ci_systems_and_pastes_has_the_same_fingerprint(
    text: str,
) -> None:
    github = failure(GITHUB_ACTIONS)
    other = failure(text, package="tests/server/api")  # pd-ut prints the relative package
    assert normalize(other.signature) == normalize(github.signature)
    assert fingerprint(other) == fingerprint(github)
    assert FP.fullmatch(fingerprint(github))


def test_the_normalized_text_keeps_what_identifies_the_failure() -> None:
    text = normalize(GITHUB_ACTIONS)
    assert "tests/server/api/scheduler_test.go:871" in text  # project line numbers stay
    assert "$GOROOT/src/testing/testing.go\n" in text + "\n"  # stdlib line numbers go
    assert "127.0.0.1/pd/api/v1/config" in text and "34567" not in text
    assert "goroutine N at 0x? after (<dur>) in <tmp>" in text
    assert "connection refused" in text and "\t" not in text


def test_the_same_test_failing_in_two_ways_gives_two_fingerprints() -> None:
    refused = failure("Error: Received unexpected error: connection refused")
    never = failure("Error: Condition never satisfied", kind="wait_condition")
    other_assert = failure("Error: Not equal: expected: 200 actual: 404")
    assert len({fingerprint(refused), fingerprint(never), fingerprint(other_assert)}) == 3
    assert identity(refused) == identity(never)  # but it is one test


def test_different_tests_give_different_fingerprints() -> None:
    sig = "Error: Condition never satisfied"
    a = failure(sig, test="TestAPI/TestConfig")
    b = failure(sig, test="TestAPI/TestMembers")
    c = failure(sig, package="github.com/tikv/pd/tests/server/cluster")
    assert len({fingerprint(a), fingerprint(b), fingerprint(c)}) == 3


def test_package_level_failures_are_keyed_by_package_and_kind() -> None:
    leak = Failure("", "github.com/tikv/pd/pkg/utils", "leak", "found unexpected goroutines", "")
    build = Failure("", "github.com/tikv/pd/pkg/utils", "build", "found unexpected goroutines", "")
    assert identity(leak) == "pkg/utils [leak]"
    assert fingerprint(leak) != fingerprint(build)


def test_what_varies_between_runs_of_one_flaky_failure_does_not_change_it() -> None:
    """Values of a flaky assertion and a line shifted by an edit above it (pd's
    testutil.go:67 became :68) are the same failure."""
    a = failure("testutil.go:67: Error: expected purgatory size of 10; got 9")
    b = failure("testutil.go:68: Error: expected purgatory size of 10; got 8")
    assert fingerprint(a) == fingerprint(b)


def test_a_fingerprint_ignores_everything_but_identity_and_signature() -> None:
    a = failure("Error: Condition never satisfied")
    b = Failure(**{**a.__dict__, "excerpt": "other lines", "line": 99, "category": "flaky"})
    assert fingerprint(a) == fingerprint(b)


def test_the_fingerprint_of_a_known_failure_never_changes() -> None:
    """Forge issues carry fingerprints: changing the scheme silently splits every item."""
    f = failure("Error: Condition never satisfied", kind="wait_condition")
    assert fingerprint(f) == fingerprint(failure(f.signature, kind="wait_condition"))
    assert fingerprint(f) == "fp-33b1b0140978"


@pytest.mark.parametrize(
    ("package", "key"),
    [
        ("github.com/tikv/pd/tests/server/api", "tests/server/api"),
        ("tests/server/api", "tests/server/api"),
        ("//tests/realtikvtest/addindextest:addindextest_test", "tests/realtikvtest/addindextest"),
        ("go.etcd.io/etcd/tests/v3/common", "tests/common"),
        ("k8s.io/kubernetes/pkg/controller/framework", "pkg/controller/framework"),
        ("github.com/tikv/pd", "github.com/tikv/pd"),
        ("", ""),
    ],
)
def test_package_keys(package: str, key: str) -> None:
    assert package_key(package) == key


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024-03-06T03:30:16.9792939Z --- FAIL: TestA (2.69s)", "--- FAIL: TestA (<dur>)"),
        ("[2020-04-01T12:55:22.854Z] FAIL: x_test.go:50: s.TestB", "FAIL: x_test.go:50: s.TestB"),
        ("2021-07-01T13:45:57.146Z] PASS: a", "PASS: a"),
        ("[2022/03/21 23:02:16.111 +08:00] [INFO] [db.go:625] go", "[INFO] [db.go:625] go"),
        ("I0509 18:45:18.441385   11397 integration.go:848] ok", "I integration.go:848] ok"),
        ("W160607 07:35:09.502026 gossip/gossip.go:897  x", "W gossip/gossip.go:897 x"),
        ("+++ [0509 18:45:18] done", "+++ done"),
        ("Run finished at Mon May  9 11:45:20 PDT 2016", "Run finished at"),
        ("job\tRun make\t2026-08-14T05:58:44.3721294Z ##[error]boom", "boom"),
        ("\x1b[36;1mmake test\x1b[0m and [36;1mpasted[0m", "make test and pasted"),
        ("panic: test timed out after 10m0s", "panic: test timed out after <dur>"),
        ("FAIL\tgithub.com/tikv/pd/server\t213.604s", "FAIL github.com/tikv/pd/server <dur>"),
        ("delay: 174.333395ms, 596.116µs, 1h2m3s", "delay: <dur>, <dur>, <dur>"),
        ("created by x in goroutine 31038", "created by x in goroutine N"),
        ("Write at 0x00c005754c80 by goroutine 513:", "Write at 0x? by goroutine N:"),
        ("listen tcp 0.0.0.0:4000: bind", "listen tcp 0.0.0.0: bind"),
        ("dial localhost:2379 and [::1]:2380", "dial localhost and [::1]"),
        (
            "lookup goproxy.io on 10.233.0.10:53: no such host",
            "lookup goproxy.io on <ip>: no such host",
        ),
        ("open /tmp/test_pd441665756/x: no such file", "open <tmp> no such file"),
        ("at /var/folders/xy/abc123/T/go-build1/b001", "at <tmp>"),
        ("mkdir $WORK/b3076/_pkg_.a: failed", "mkdir $WORK/<tmp> failed"),
        ("dir TestConfig1234567/001 gone", "dir TestConfig<tmp> gone"),
        ("/home/runner/work/pd/pd/server/a.go:1", "server/a.go:1"),
        ("/__w/etcd/etcd/tests/common/kv_test.go:117", "tests/common/kv_test.go:117"),
        ("/home/travis/gopath/src/github.com/pingcap/pd/server/s.go:2", "server/s.go:2"),
        ("/go/src/k8s.io/kubernetes/test/e2e/probe.go:72", "test/e2e/probe.go:72"),
        (
            "/home/runner/go/pkg/mod/github.com/stretchr/testify@v1.8.4/suite/suite.go:197 +0x766",
            "$GOMODCACHE/github.com/stretchr/testify@v?/suite/suite.go +0x?",
        ),
        ("GOROOT/src/testing/testing.go:1439", "$GOROOT/src/testing/testing.go"),
        ("    testing.go:1312: race detected", "testing.go: race detected"),
        (
            "tests/framework/integration/testing.go:127",
            "tests/framework/integration/testing.go:127",
        ),
        ("process 4242 exited, pid=77", "process N exited, pid=N"),
        ("cleaning up 03d812ad-6843-4dda-a42c-60fb0d01bb8e", "cleaning up <uuid>"),
        ("member pd-12345 and hudson7030674491680998913", "member pd-N and hudsonN"),
        ("0x6bf9[632](https://prow.k8s.io/view/x#1:build-log.txt%3A632)4", "0x?"),
        ("[](https://ci.pingcap.net/x#step-49-log-359)=== FAIL: p TestU", "=== FAIL: p TestU"),
        ("a \t b\r\n\r\n\tc  ", "a b\nc"),
    ],
)
def test_normalize(raw: str, expected: str) -> None:
    assert normalize(raw) == expected


def test_marker_block_round_trip() -> None:
    fps = ["fp-0123456789ab", "fp-ba9876543210", "fp-0123456789ab"]
    block = marker_block(fps)
    assert block == "<!-- supervisor:fingerprints fp-0123456789ab,fp-ba9876543210 -->"
    body = f"Flaky test: TestX\n\nsome text <!-- other comment -->\n\n{block}\n"
    assert parse_marker_block(body) == ["fp-0123456789ab", "fp-ba9876543210"]


def test_marker_blocks_are_read_leniently_and_written_strictly() -> None:
    body = (
        "<!--supervisor:fingerprints fp-aaaaaaaaaaaa -->\n"
        "<!-- supervisor:fingerprints\n  fp-bbbbbbbbbbbb, fp-aaaaaaaaaaaa task-0123456789\n-->"
    )
    assert parse_marker_block(body) == ["fp-aaaaaaaaaaaa", "fp-bbbbbbbbbbbb", "task-0123456789"]
    assert parse_marker_block("no block here") == []
    assert parse_marker_block(marker_block([])) == []
    for bad in ("fp 1", "a,b", "x-->", "--", ""):
        with pytest.raises(ValueError):
            marker_block([bad])


def test_the_same_log_through_the_extractor_gives_the_same_fingerprints(tmp_path: Path) -> None:
    """End to end once extraction exists: a raw Actions log, and the same failure pasted
    without timestamps from a Prow run (other checkout root, ports, addresses, durations)."""
    extract = pytest.importorskip("supervisor.triage.extract").extract
    lines = [
        "=== RUN   TestAPI/TestConfig",
        *GITHUB_ACTIONS.splitlines(),
        "    --- FAIL: TestAPI/TestConfig (0.06s)",
        "--- FAIL: TestAPI (2.69s)",
        "FAIL",
        "FAIL\tgithub.com/tikv/pd/tests/server/api\t3.290s",
    ]
    raw = "".join(
        line if line.startswith("2024-") else f"2024-03-06T03:30:17.0000000Z {line}\n"
        for line in (f"{x}\n" if x.startswith("2024-") else x for x in lines)
    )
    prow = re.sub(r"^\S+Z ", "", raw, flags=re.MULTILINE)
    for old, new in [
        ("/home/runner/work/pd/pd/", "/home/prow/go/src/github.com/tikv/pd/"),
        ("34567", "40404"),
        ("0xc000123456", "0xc000fedcba"),
        ("goroutine 123", "goroutine 9"),
        ("(0.05s)", "(0.5s)"),
        ("2.69s", "3.1s"),
    ]:
        prow = prow.replace(old, new)
    (tmp_path / "gh.log").write_text(raw)
    (tmp_path / "prow.log").write_text(prow)
    a = {(f.test, fingerprint(f)) for f in extract(tmp_path / "gh.log")}
    b = {(f.test, fingerprint(f)) for f in extract(tmp_path / "prow.log")}
    assert a and a == b


@pytest.mark.parametrize(
    "junk",
    [
        "a" * 100_000,
        "ab/" * 33_000,
        "/go/src/" * 12_000,
        "@v1" * 30_000,
        "goproxy" * 15_000,
        "1." * 50_000,
        "[1" * 50_000,
        bytes(range(256)).decode("latin-1") * 400,
    ],
    ids=lambda j: repr(j[:6]),
)
def test_junk_takes_linear_time(junk: str) -> None:
    """No pattern may rescan a long token from each of its characters (that took minutes)."""
    started = time.monotonic()
    f = Failure("TestX", "pkg", "fail", junk, junk)
    fingerprint(f)
    classify(f)
    assert time.monotonic() - started < 10
