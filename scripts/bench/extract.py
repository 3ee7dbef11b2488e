#!/usr/bin/env python3
"""Benchmark: failure extraction on a big GitHub Actions log vs `grep -E -c` of the markers.

Generates (once, cached) a GitHub Actions job log in pd's style: RFC 3339 timestamps, `##[group]`
steps, mostly `=== RUN` / `--- PASS` / `ok` lines and pd's zap log noise, with a few dozen failure
blocks spread through it, pd-ut style (`[FAIL]  <pkg> <Test>` and the test's output): testify
assertions and wait conditions, timeouts, races, panics, leaks, plain t.Error failures, build
errors; and a cancelled run at its end (infra). Then, interleaved over N rounds, it times:

  ours  `python -c "extract(path)"` in a subprocess, whose peak RSS (VmHWM) it reports
  grep  `grep -E -c '<failure markers>' path` on the same file

The figure is the ratio of the medians (ours / grep), so the noise of a shared machine mostly
cancels out. Targets: ratio <= 3, peak memory <= 64 MB. It also checks that every injected
failure was found.

    python scripts/bench/extract.py                 # full: 200 MB log, 3 rounds
    python scripts/bench/extract.py --size-mb 1024  # the 1 GB check
    python scripts/bench/extract.py --quick         # CI smoke run: 20 MB, 1 round, never fails

Exit code: 0 on success (always in --quick), 1 when a target is missed in full mode.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

TARGET_RATIO = 3.0
TARGET_MB = 64.0
GENERATOR_VERSION = 3  # bump when the generated log changes shape
# the failure markers extraction recognises (FORMATS.md; supervisor/triage/extract.py)
GREP_MARKERS = (
    r"--- FAIL|FAIL\s|\[FAIL\]|=== FAIL|Error Trace|Condition never satisfied|panic:|test panicked"
    r"|test timed out|WARNING: DATA RACE|race detected|found unexpected goroutines"
    r"|\[build failed\]|##\[error\]"
)
BLOCK_BYTES = 1 << 20

CHILD = r"""
import json, resource, sys, time
from supervisor.triage.extract import extract
started = time.perf_counter()
failures = extract(sys.argv[1])
took = time.perf_counter() - started
peak = 0
try:
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            peak = int(line.split()[1]) * 1024
except OSError:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"peak": peak, "took": took, "failures": [[f.test, f.kind] for f in failures]}))
"""

# -- the generated log -----------------------------------------------------------------------------

PKGS = [
    "pkg/schedule/schedulers",
    "pkg/core",
    "pkg/keyspace",
    "pkg/tso",
    "server/api",
    "server/cluster",
    "tests/server/api",
    "tests/integrations/mcs/tso",
    "pkg/utils/etcdutil",
    "pkg/mcs/resourcemanager/server",
    "client/resource_group/controller",
    "pkg/syncer",
]
MESSAGES = [
    '["region heartbeat"] [region-id={n}] [leader-store-id=1]',
    '["store heartbeat received"] [store-id={s}] [available=1.2TiB]',
    '["update member"] [member-id={n}] [name=pd{s}]',
    '["leader changed"] [new-leader=pd{s}] [old-leader=pd1]',
    '["failed to get leader"] [error="[PD:client:ErrClientGetLeader]get leader failed: '
    'rpc error: code = Unavailable desc = connection error: desc = \\"transport: Error while '
    'dialing: dial tcp 127.0.0.1:{p}: connect: connection refused\\""]',
    '["load cluster info"] [cost={n}µs] [regions={s}]',
    '["tso allocator started"] [dc-location=global] [keyspace-group-id=0]',
    '["watch channel closed"] [key=/pd/{n}/leader] [revision={p}]',
]


def stamp(t: float) -> str:
    sec = int(t)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)) + f".{int((t - sec) * 1e7):07d}Z "


def noise_block(rng: random.Random, t0: float) -> str:
    """About 1 MB of a passing pd-ut job: test runs and passes, zap log lines, ok lines."""
    out: list[str] = []
    size = 0
    t = t0
    test = "TestSuite"
    while size < BLOCK_BYTES:
        t += rng.random() * 0.002
        r = rng.random()
        if r < 0.04:
            test = f"Test{rng.choice(['Region', 'Store', 'Keyspace', 'TSO', 'Member'])}Suite"
            line = f"=== RUN   {test}/TestCase{rng.randrange(40)}"
        elif r < 0.08:
            line = f"--- PASS: {test}/TestCase{rng.randrange(40)} (0.{rng.randrange(100):02d}s)"
        elif r < 0.085:
            line = f"ok  \tgithub.com/tikv/pd/{rng.choice(PKGS)}\t{rng.random() * 60:.3f}s"
        elif r < 0.09:
            line = f"    {test.lower()}_test.go:{rng.randrange(900)}: start test in pd mode"
        else:
            level = rng.choice(["INFO", "INFO", "INFO", "WARN", "DEBUG"])
            msg = rng.choice(MESSAGES).format(
                n=rng.randrange(1 << 20), s=rng.randrange(5), p=rng.randrange(20000, 60000)
            )
            clock = time.strftime("%Y/%m/%d %H:%M:%S", time.gmtime(int(t)))
            where = f"{rng.choice(['server.go', 'cluster.go', 'client.go'])}:{rng.randrange(2000)}"
            line = f"[{clock}.{rng.randrange(1000):03d} +00:00] [{level}] [{where}] {msg}"
        text = stamp(t) + line + "\n"
        out.append(text)
        size += len(text)
    return "".join(out)


def failure_block(i: int, t: float) -> tuple[str, tuple[str, str]]:
    """One failure of kind i % 8 and the (test, kind) extraction should find for it."""
    pkg = PKGS[i % len(PKGS)]
    suite, case = f"TestBench{i}Suite", f"TestCase{i}"
    full = f"{suite}/{case}"
    kind = i % 8
    if kind == 0:
        lines = [
            f"[FAIL]  {pkg} {suite}",
            "err=exit status 1",
            f"=== RUN   {suite}",
            f"=== RUN   {full}",
            "    testutil.go:68: ",
            "        \tError Trace:\t/home/runner/work/pd/pd/pkg/utils/testutil/testutil.go:68",
            f"        \t            \t\t\t\t/home/runner/work/pd/pd/{pkg}/bench_test.go:{100 + i}",
            "        \tError:      \tCondition never satisfied",
            f"        \tTest:       \t{full}",
            f"--- FAIL: {suite} (21.05s)",
            f"    --- FAIL: {full} (20.11s)",
            "FAIL",
        ]
        want = (full, "wait_condition")
    elif kind == 1:
        lines = [
            f"[FAIL]  {pkg} {suite}",
            "err=exit status 1",
            f"=== RUN   {full}",
            f"    bench_test.go:{i}: ",
            f"        \tError Trace:\t/home/runner/work/pd/pd/{pkg}/bench_test.go:{i}",
            "        \tError:      \tNot equal: ",
            "        \t            \texpected: 200",
            "        \t            \tactual  : 404",
            f"        \tTest:       \t{full}",
            f"--- FAIL: {suite} (1.05s)",
            f"    --- FAIL: {full} (0.11s)",
            "FAIL",
        ]
        want = (full, "assertion")
    elif kind == 2:
        lines = [
            f"[FAIL]  {pkg} {suite}",
            "err=exit status 2",
            f"=== RUN   {full}",
            "panic: test timed out after 10m0s",
            "running tests:",
            f"\t{suite} (10m0s)",
            f"\t{full} (9m59s)",
            "",
            "goroutine 2301 [running]:",
            "testing.(*M).startAlarm.func1()",
            "\t/opt/hostedtoolcache/go/1.25.1/x64/src/testing/testing.go:2484 +0x394",
        ]
        want = (full, "timeout")
    elif kind == 3:
        lines = [
            f"[FAIL]  {pkg} {suite}",
            "err=exit status 1",
            f"=== RUN   {full}",
            "==================",
            "WARNING: DATA RACE",
            "Write at 0x00c0014f5b30 by goroutine 513:",
            f"  github.com/tikv/pd/{pkg}.(*Manager).Init()",
            f"      /home/runner/work/pd/pd/{pkg}/manager.go:132 +0x5d1",
            "Previous read at 0x00c0014f5b30 by goroutine 29900:",
            f"  github.com/tikv/pd/{pkg}.(*Manager).flush()",
            f"      /home/runner/work/pd/pd/{pkg}/manager.go:480 +0x12ed",
            "==================",
            f"=== NAME  {full}",
            "    testing.go:1465: race detected during execution of test",
            f"--- FAIL: {suite} (3.01s)",
            f"    --- FAIL: {full} (3.00s)",
            "FAIL",
        ]
        want = (full, "race")
    elif kind == 4:
        lines = [
            f"[FAIL]  {pkg} {suite}",
            "err=exit status 2",
            f"=== RUN   {full}",
            f"--- FAIL: {suite} (0.01s)",
            f"    --- FAIL: {full} (0.00s)",
            "panic: runtime error: invalid memory address or nil pointer dereference [recovered]",
            "\tpanic: runtime error: invalid memory address or nil pointer dereference",
            "",
            "goroutine 88 [running]:",
            "testing.tRunner.func1.2({0x1c4e0a0, 0x2d1b5c0})",
            "\t/opt/hostedtoolcache/go/1.25.1/x64/src/testing/testing.go:1631 +0x24a",
            f"github.com/tikv/pd/{pkg}.(*Cluster).GetStore(...)",
            f"\t/home/runner/work/pd/pd/{pkg}/cluster.go:1201",
            "exit status 2",
        ]
        want = (full, "panic")
    elif kind == 5:
        lines = [
            f"[FAIL]  {pkg} TestLeak{i}",
            "err=exit status 1",
            f"=== RUN   TestLeak{i}",
            f"--- PASS: TestLeak{i} (0.20s)",
            "PASS",
            "goleak: Errors on successful test run: found unexpected goroutines:",
            f"[Goroutine 103 in state select, with github.com/tikv/pd/{pkg}.(*Manager).watch on "
            "top of the stack:",
            "]",
        ]
        want = ("", "leak")
    elif kind == 6:
        lines = [
            f"# github.com/tikv/pd/{pkg} [github.com/tikv/pd/{pkg}.test]",
            f"{pkg}/bench_test.go:{i}:3: undefined: mustBench{i}",
            f"{pkg}/bench_test.go:{i + 9}:12: cannot use r (variable of type int) as string value",
            f"FAIL\tgithub.com/tikv/pd/{pkg} [build failed]",
        ]
        want = ("", "build")
    else:
        lines = [
            f"[FAIL]  {pkg} {suite}",
            "err=exit status 1",
            f"=== RUN   {full}",
            f"    bench_test.go:{i}: expected {i} regions, got {i + 1}",
            f"--- FAIL: {suite} (0.30s)",
            f"    --- FAIL: {full} (0.29s)",
            "FAIL",
        ]
        want = (full, "assertion")
    return "".join(stamp(t + k * 1e-4) + x + "\n" for k, x in enumerate(lines)), want


def generate(path: Path, size_mb: int, failures: int) -> list[tuple[str, str]]:
    rng = random.Random(size_mb)
    blocks = [noise_block(rng, 1_715_000_000 + k * 600.0) for k in range(16)]
    every = max(1, size_mb // failures)
    wants: list[tuple[str, str]] = []
    tmp = path.with_suffix(".part")
    with tmp.open("w", encoding="utf-8") as out:
        out.write(stamp(1_715_000_000) + "##[group]Run make ci-test-job JOB_INDEX=$WORKER_ID\n")
        out.write(stamp(1_715_000_000) + "\x1b[36;1mmake ci-test-job JOB_INDEX=$WORKER_ID\x1b[0m\n")
        out.write(stamp(1_715_000_000) + "##[endgroup]\n")
        for mb in range(size_mb):
            out.write(blocks[mb % len(blocks)])
            if mb % every == every // 2 and len(wants) < failures:
                text, want = failure_block(len(wants), 1_715_000_000 + mb)
                out.write(text)
                wants.append(want)
        out.write(stamp(1_715_009_000) + "##[error]The operation was canceled.\n")
        out.write(stamp(1_715_009_000) + "##[error]Process completed with exit code 143.\n")
        wants.append(("", "infra"))
    tmp.replace(path)
    return wants


def cached_log(cache: Path, size_mb: int, failures: int) -> tuple[Path, list[tuple[str, str]]]:
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"pd-job-{size_mb}mb-{failures}f-v{GENERATOR_VERSION}.log"
    meta = path.with_suffix(".json")
    if path.exists() and meta.exists():
        return path, [(str(x[0]), str(x[1])) for x in json.loads(meta.read_text())]
    print(f"generating a {size_mb} MB log in {cache} ...", flush=True)
    wants = generate(path, size_mb, failures)
    meta.write_text(json.dumps(wants))
    return path, wants


# -- measuring -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ours:
    took: float  # wall seconds of the whole child process (start-up included)
    inner: float  # seconds of extract() alone
    peak: int  # its peak RSS in bytes
    failures: list[tuple[str, str]]  # (test, kind) of each failure found


def time_ours(path: Path) -> Ours:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUPERVISOR")}
    started = time.perf_counter()
    r = subprocess.run(
        [sys.executable, "-c", CHILD, str(path)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    took = time.perf_counter() - started
    if r.returncode != 0:
        raise SystemExit(f"extraction failed ({r.returncode}):\n{r.stderr}")
    doc = json.loads(r.stdout)
    failures = [(str(t), str(k)) for t, k in doc["failures"]]
    return Ours(took, float(doc["took"]), int(doc["peak"]), failures)


def time_grep(path: Path) -> tuple[float, int]:
    started = time.perf_counter()
    r = subprocess.run(
        ["grep", "-E", "-c", "-e", GREP_MARKERS, str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    took = time.perf_counter() - started
    if r.returncode not in (0, 1):
        raise SystemExit(f"grep failed ({r.returncode}): {r.stderr}")
    return took, int(r.stdout.strip() or 0)


def run(args: argparse.Namespace) -> int:
    cache = Path(args.cache_dir)
    path, wants = cached_log(cache, args.size_mb, args.failures)
    size = path.stat().st_size
    ours: list[float] = []
    inner: list[float] = []
    grep: list[float] = []
    peaks: list[int] = []
    found: list[tuple[str, str]] = []
    lines = 0
    for n in range(args.rounds):
        order = [0, 1] if n % 2 == 0 else [1, 0]
        for which in order:
            if which == 0:
                result = time_ours(path)
                ours.append(result.took)
                inner.append(result.inner)
                peaks.append(result.peak)
                found = result.failures
            else:
                took, lines = time_grep(path)
                grep.append(took)
        if args.verbose:
            print(
                f"  round {n + 1}: ours {ours[-1]:.3f} s (extract() {inner[-1]:.3f} s), "
                f"grep {grep[-1]:.3f} s"
            )
    med_ours, med_grep = statistics.median(ours), statistics.median(grep)
    ratio = med_ours / med_grep if med_grep > 0 else float("inf")
    peak_mb = max(peaks) / (1 << 20)
    print(
        f"extract: ours {med_ours:.2f} s, grep {med_grep:.2f} s, ratio {ratio:.2f} "
        f"(target <= {TARGET_RATIO:g}); peak memory {peak_mb:.1f} MB (target <= {TARGET_MB:g} MB); "
        f"{size / (1 << 20):.0f} MB log, medians of {args.rounds} rounds"
    )
    # a package's leaks (or builds) injected twice are one package-level failure: compare sets
    missing = sorted(set(wants) - set(found))
    extra = sorted(f for f in set(found) - set(wants) if f[1] != "fail")
    print(
        f"  found {len(found)} failures for {len(wants)} injected blocks "
        f"({len(set(wants))} distinct); grep matched {lines} lines"
        + (f"; missing {missing[:5]}" if missing else "")
        + (f"; unexpected {extra[:5]}" if extra else "")
    )
    missed: list[str] = []
    if ratio > TARGET_RATIO:
        missed.append(f"ratio {ratio:.2f} > {TARGET_RATIO:g}")
    if peak_mb > TARGET_MB:
        missed.append(f"peak memory {peak_mb:.1f} MB > {TARGET_MB:g} MB")
    if missing:
        missed.append(f"{len(missing)} injected failures not found")
    if missed:
        if args.quick:
            print("  (target missed; --quick does not fail on it: " + "; ".join(missed) + ")")
            return 0
        print("FAIL: " + "; ".join(missed), file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="20 MB log, 1 round, never fails")
    p.add_argument("--size-mb", type=int, default=None, help="log size in MB (200; quick 20)")
    p.add_argument("--failures", type=int, default=42, help="failure blocks injected (42)")
    p.add_argument("--rounds", type=int, default=None, help="timed rounds (3; quick 1)")
    default_cache = os.environ.get("SUPERVISOR_BENCH_CACHE") or str(
        Path(tempfile.gettempdir()) / "sv-bench"
    )
    p.add_argument("--cache-dir", default=default_cache, help=f"generated logs ({default_cache})")
    p.add_argument("-v", "--verbose", action="store_true", help="print every round")
    args = p.parse_args(argv)
    if args.size_mb is None:
        args.size_mb = 20 if args.quick else 200
    if args.rounds is None:
        args.rounds = 1 if args.quick else 3
    if args.size_mb < 1 or args.rounds < 1 or args.failures < 0:
        p.error("--size-mb and --rounds must be at least 1")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
