"""Stress-run one test: many runs in parallel, under a budget, stopped once the answer is clear.

Each run has its own timeout (a hung run is killed with its whole process tree), its own temporary
folder and port. When the budget is spent, no run starts and the runs in flight are killed and not
counted; STOP (or an early decision) kills them the same way, within a second. The log of
every failed run is kept (``run-<k>.log``); its failures are fingerprinted with the triage
extraction, so that two different ways of failing are told apart.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from supervisor import shell
from supervisor.reproduce import stats
from supervisor.reproduce.runners import RunSpec

GRACE_S = 0.5  # SIGTERM, then SIGKILL: STOP ends a stress run within a second
DETERMINISTIC_AFTER = 5  # this many runs, all failed: a deterministic failure, not a flaky one


@dataclass
class Outcome:
    index: int
    ok: bool
    exit_code: int | None
    seconds: float
    timed_out: bool = False


@dataclass
class Measurement:
    test: str
    command: str
    outcomes: list[Outcome] = field(default_factory=list)
    fingerprints: list[str] = field(default_factory=list)
    failed_logs: list[str] = field(default_factory=list)
    ended: str = "runs"  # runs | decided | budget | stopped
    wall_s: float = 0.0
    parallel: int = 1

    @property
    def runs(self) -> int:
        return len(self.outcomes)

    @property
    def failures(self) -> int:
        return sum(1 for o in self.outcomes if not o.ok)

    @property
    def timeouts(self) -> int:
        return sum(1 for o in self.outcomes if o.timed_out)

    @property
    def rate(self) -> float:
        return self.failures / self.runs if self.runs else 0.0

    @property
    def ci95(self) -> tuple[float, float]:
        return stats.interval(self.failures, self.runs) if self.runs else (0.0, 1.0)

    @property
    def seconds_per_run(self) -> float:
        return sum(o.seconds for o in self.outcomes) / self.runs if self.runs else 0.0

    def figures(self) -> dict[str, Any]:
        low, high = self.ci95
        return {
            "test": self.test,
            "command": self.command,
            "runs": self.runs,
            "failures": self.failures,
            "timeouts": self.timeouts,
            "rate": round(self.rate, 6),
            "ci95": [round(low, 6), round(high, 6)],
            "fingerprints": self.fingerprints,
            "failed_logs": self.failed_logs,
            "seconds_per_run": round(self.seconds_per_run, 3),
            "wall_s": round(self.wall_s, 3),
            "parallel": self.parallel,
            "ended": self.ended,
        }


Decide = Callable[[list[Outcome]], bool]  # True: the answer is clear, stop


def stress(
    spec: RunSpec,
    runs: int,
    parallel: int,
    budget_s: float,
    run_timeout: float,
    logs_dir: Path,
    stop_event: threading.Event | None = None,
    decide: Decide | None = None,
    progress: Callable[[Measurement], None] | None = None,
    burners: int = 0,
) -> Measurement:
    """Run spec up to `runs` times, `parallel` at once, within budget_s."""
    logs_dir.mkdir(parents=True, exist_ok=True)
    m = Measurement(spec.test, spec.shown, parallel=parallel)
    halt = threading.Event()  # ends the runs in flight: STOP, or the answer is clear
    start = time.monotonic()
    deadline = start + budget_s
    work = Path(tempfile.mkdtemp(prefix="supervisor-stress-"))
    heat = _burn(burners)
    try:
        _loop(m, spec, runs, parallel, deadline, run_timeout, logs_dir, work, halt, stop_event,
              decide, progress)  # fmt: skip
    finally:
        for p in heat:
            shell.kill_tree(p.pid, grace_s=0.2)
        shutil.rmtree(work, ignore_errors=True)
    m.outcomes.sort(key=lambda o: o.index)
    m.wall_s = time.monotonic() - start
    _fingerprint(m, logs_dir)
    return m


def _loop(
    m: Measurement,
    spec: RunSpec,
    runs: int,
    parallel: int,
    deadline: float,
    run_timeout: float,
    logs_dir: Path,
    work: Path,
    halt: threading.Event,
    stop_event: threading.Event | None,
    decide: Decide | None,
    progress: Callable[[Measurement], None] | None,
) -> None:
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        flying: dict[Future[Outcome], int] = {}
        started = 0
        try:
            while True:
                if stop_event is not None and stop_event.is_set():
                    m.ended = "stopped"
                    halt.set()
                while (
                    not halt.is_set()
                    and started < runs
                    and len(flying) < parallel
                    and time.monotonic() < deadline
                ):
                    started += 1
                    fut = pool.submit(_one, spec, started, work, logs_dir, run_timeout, halt)
                    flying[fut] = started
                if not flying:
                    break
                done, _ = wait(flying, timeout=0.1, return_when=FIRST_COMPLETED)
                for fut in done:
                    flying.pop(fut)
                    outcome = fut.result()
                    if outcome.exit_code is None and not outcome.timed_out:
                        continue  # killed by STOP or an early decision: not a run
                    m.outcomes.append(outcome)
                    if progress is not None:
                        progress(m)
                    if not halt.is_set() and decide is not None and decide(m.outcomes):
                        m.ended = "decided"
                        halt.set()
                if (
                    time.monotonic() >= deadline
                    and m.ended == "runs"
                    and (flying or started < runs)
                ):
                    m.ended = "budget"
                    halt.set()  # the runs in flight are cut, not counted: the budget holds
        except BaseException:  # Ctrl-C: the runs in flight are killed, not waited for
            halt.set()
            raise


def _one(
    spec: RunSpec, index: int, work: Path, logs_dir: Path, timeout: float, halt: threading.Event
) -> Outcome:
    tmpdir = work / f"run-{index}"
    tmpdir.mkdir()
    argv, env = spec.for_run(index, tmpdir)
    log = logs_dir / f"run-{index}.log"
    try:
        r = shell.run(
            argv,
            cwd=spec.cwd,
            env=env,
            timeout=timeout,
            check=False,
            stop_event=halt,
            grace_s=GRACE_S,
            stdout_path=log,
            quiet=True,
        )
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    if r.stopped:
        log.unlink(missing_ok=True)
        return Outcome(index, False, None, r.duration_s)
    if r.ok:
        log.unlink(missing_ok=True)  # only failed runs' logs are kept
    else:
        with log.open("a", encoding="utf-8", errors="replace") as f:
            if r.stderr.strip():
                f.write(f"\n--- stderr ---\n{r.stderr}")
            if r.timed_out:
                f.write(f"\n--- killed: still running after {timeout:.0f}s ---\n")
    return Outcome(index, r.ok, None if r.timed_out else r.returncode, r.duration_s, r.timed_out)


def _fingerprint(m: Measurement, logs_dir: Path) -> None:
    from supervisor.ci.logs import file_ref
    from supervisor.ci.scan import triage_log

    for o in m.outcomes:
        if o.ok:
            continue
        log = logs_dir / f"run-{o.index}.log"
        if not log.exists():
            continue
        m.failed_logs.append(str(log))
        prints = [f.fingerprint for f in triage_log(file_ref(log))]
        if o.timed_out and not prints:
            prints = ["timeout"]
        for fp in prints or ["unrecognised"]:
            if fp not in m.fingerprints:
                m.fingerprints.append(fp)


def _burn(n: int) -> list[subprocess.Popen[bytes]]:
    """n busy processes: CPU stress that makes timing races show (reproduce.stress)."""
    procs = []
    for _ in range(n):
        with contextlib.suppress(OSError):
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-c", "while True: pass"],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
            )
    return procs
