#!/usr/bin/env python3
"""Benchmark: what a waiting supervisor costs, and how fast it reacts to state/STOP.

(a) idle CPU: a real `python -m supervisor start` on a local target with nothing to do runs its
    first (empty) chain, then waits for schedule.every (10m). Once state/supervisor.json says phase
    "waiting", its CPU time (user + system, itself and its children) is measured over 60 s.
    Target: <= 0.05 s per 60 s. Reported as a ratio against that budget, next to a baseline
    measured over the same window in the same run: a plain sleeping `python -c "time.sleep(N)"`.

(b) STOP latency: 10 times, a supervisor is started the same way, and once it is waiting
    `touch state/STOP` is timed until the process has exited. Target: median <= 1 s. Reported as
    a ratio against the target, next to a baseline from the same run: the start-to-exit time of
    `python -c pass` (the floor of any Python process ending).

    python scripts/bench/idle.py            # full: 60 s window, 10 STOP trials
    python scripts/bench/idle.py --quick    # CI smoke run: 5 s window, 2 trials, never fails

Exit code: 0 on success (always in --quick), 1 when a target is missed in full mode. Every process
it starts is killed on the way out, whatever happens.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import select
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

IDLE_BUDGET_S = 0.05  # CPU seconds per 60 s of waiting
STOP_TARGET_S = 1.0  # median seconds from `touch state/STOP` to the process gone
READY_TIMEOUT_S = 120.0
EXIT_TIMEOUT_S = 30.0


@dataclass
class Bench:
    """The temporary target and home, and every process started (killed in close())."""

    root: Path
    env: dict[str, str]
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def target(self) -> Path:
        return self.root / "target"

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def state(self) -> Path:
        return self.home / "state"

    @property
    def stop_file(self) -> Path:
        return self.state / "STOP"

    @property
    def process_file(self) -> Path:
        return self.state / "supervisor.json"

    def log(self, n: int) -> Path:
        return self.root / f"supervisor-{n}.out"

    def spawn(self, args: list[str], out: Path | None = None) -> subprocess.Popen[bytes]:
        with contextlib.ExitStack() as stack:
            sink = stack.enter_context(open(out, "ab")) if out else subprocess.DEVNULL
            proc = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                cwd=self.root,
                env=self.env,
                start_new_session=True,  # a Ctrl-C here reaches us, and we kill it ourselves
            )
        self.procs.append(proc)
        return proc

    def close(self) -> None:
        for proc in self.procs:
            kill_tree(proc)
        self.procs.clear()


def kill_tree(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    try:
        children = psutil.Process(proc.pid).children(recursive=True)
    except psutil.Error:
        children = []
    for p in [*children]:
        with contextlib.suppress(psutil.Error):
            p.kill()
    proc.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)


def clean_env() -> dict[str, str]:
    """The environment without SUPERVISOR_* overrides (they would change the config)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUPERVISOR")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def run_checked(args: list[str], cwd: Path, env: dict[str, str]) -> None:
    r = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({r.returncode}):\n{r.stdout}{r.stderr}")


def setup(b: Bench) -> None:
    """A local target (one commit with an empty tasks.md) and a home written by `init`."""
    b.target.mkdir(parents=True)
    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost"]
    run_checked(["git", "init", "--quiet", "--initial-branch=main", str(b.target)], b.root, b.env)
    (b.target / "tasks.md").write_text("")
    run_checked([*git, "add", "tasks.md"], b.target, b.env)
    run_checked([*git, "commit", "--quiet", "-m", "empty tasks"], b.target, b.env)
    run_checked(
        [
            sys.executable,
            *("-m", "supervisor", "--home", str(b.home)),
            *("init", "--target", str(b.target), "--worker", "true"),
        ],
        b.root,
        b.env,
    )


def read_state(b: Bench) -> dict[str, Any]:
    try:
        doc = json.loads(b.process_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no output)"


def start_waiting(b: Bench, n: int) -> subprocess.Popen[bytes]:
    """Start the supervisor and return once it says phase "waiting" (after its first chain)."""
    if b.stop_file.exists():
        b.stop_file.unlink()
    proc = b.spawn([sys.executable, "-m", "supervisor", "--home", str(b.home), "start"], b.log(n))
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        doc = read_state(b)
        if doc.get("pid") == proc.pid and doc.get("phase") == "waiting":
            return proc
        if proc.poll() is not None:
            raise SystemExit(
                f"the supervisor exited with code {proc.returncode} before it was waiting:\n"
                + tail(b.log(n))
            )
        time.sleep(0.02)
    raise SystemExit(
        f"the supervisor was not waiting after {READY_TIMEOUT_S:.0f} s:\n" + tail(b.log(n))
    )


# -- measuring -------------------------------------------------------------------------------------


def tree_cpu(pid: int) -> float:
    """User + system seconds of the process, its reaped children and its live descendants."""
    p = psutil.Process(pid)
    t = p.cpu_times()
    total = t.user + t.system + t.children_user + t.children_system
    for child in p.children(recursive=True):
        with contextlib.suppress(psutil.Error):
            c = child.cpu_times()
            total += c.user + c.system
    return total


def wakeups(pid: int) -> int | None:
    """Context switches over all threads of the process (Linux only; None elsewhere)."""
    total = 0
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):
                for line in (task / "status").read_text().splitlines():
                    if "ctxt_switches:" in line:  # voluntary_ and nonvoluntary_
                        total += int(line.split(":")[1])
    except OSError:
        return None
    return total


def wait_exit(proc: subprocess.Popen[bytes], timeout: float) -> float | None:
    """perf_counter() at the moment the process exits (None on timeout); reaps it.

    Uses a pidfd where available so the moment is exact, not rounded up by a polling interval.
    """
    try:
        fd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):
        fd = -1
    if fd >= 0:
        try:
            poller = select.poll()
            poller.register(fd, select.POLLIN)
            ready = poller.poll(timeout * 1000)
            at = time.perf_counter()
        finally:
            os.close(fd)
        if not ready:
            return None
        proc.wait()
        return at
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if proc.poll() is not None:
            return time.perf_counter()
        time.sleep(0.001)
    return None


@dataclass(frozen=True)
class Idle:
    cpu: float  # CPU seconds of the waiting supervisor over the window
    baseline: float  # CPU seconds of a sleeping python over the same window
    before: float  # CPU seconds the supervisor had used when the window began (its start-up)
    woken: int | None  # context switches of all its threads over the window


def measure_idle(b: Bench, window: float) -> Idle:
    """CPU seconds over `window` of a waiting supervisor and of a sleeping python; wakeups."""
    sup = start_waiting(b, 0)
    settle = 1.0
    sleeper = b.spawn([sys.executable, "-c", f"import time; time.sleep({settle + window + 60})"])
    time.sleep(settle)
    cpu0, base0, wake0 = tree_cpu(sup.pid), tree_cpu(sleeper.pid), wakeups(sup.pid)
    time.sleep(window)
    cpu1, base1, wake1 = tree_cpu(sup.pid), tree_cpu(sleeper.pid), wakeups(sup.pid)
    doc = read_state(b)
    if sup.poll() is not None or doc.get("phase") != "waiting":
        raise SystemExit(
            f"the supervisor did not stay waiting (exit {sup.returncode}, phase "
            f"{doc.get('phase')!r}):\n" + tail(b.log(0))
        )
    kill_tree(sleeper)
    stop_and_time(b, sup)  # end it the normal way; its latency is not counted
    woke = None if wake0 is None or wake1 is None else wake1 - wake0
    return Idle(cpu1 - cpu0, base1 - base0, cpu0, woke)


def stop_and_time(b: Bench, proc: subprocess.Popen[bytes]) -> float:
    started = time.perf_counter()
    b.stop_file.touch()
    gone = wait_exit(proc, EXIT_TIMEOUT_S)
    if gone is None:
        raise SystemExit(f"the supervisor did not exit within {EXIT_TIMEOUT_S:.0f} s of STOP")
    if proc.returncode != 0:
        raise SystemExit(f"the supervisor exited with code {proc.returncode} on STOP")
    reason = read_state(b).get("exit_reason")
    if reason != "stopped: state/STOP":
        raise SystemExit(f"the supervisor exited for another reason than STOP: {reason!r}")
    b.stop_file.unlink()
    return gone - started


def measure_stop(b: Bench, trials: int) -> tuple[list[float], list[float]]:
    """STOP-to-exit latencies of the supervisor and start-to-exit times of `python -c pass`."""
    latencies: list[float] = []
    baseline: list[float] = []
    for n in range(1, trials + 1):
        proc = start_waiting(b, n)
        time.sleep(0.2)  # let it settle into its wait
        latencies.append(stop_and_time(b, proc))
        started = time.perf_counter()
        trivial = b.spawn([sys.executable, "-c", "pass"])
        gone = wait_exit(trivial, EXIT_TIMEOUT_S)
        baseline.append((gone or time.perf_counter()) - started)
    return latencies, baseline


# -- the run ---------------------------------------------------------------------------------------


@contextlib.contextmanager
def killed_on_exit(b: Bench) -> Iterator[None]:
    """Turn SIGTERM/SIGHUP into SystemExit so that the finally below runs, then kill everything."""

    def handler(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        b.close()
        for s, h in previous.items():
            signal.signal(s, h)


def run(args: argparse.Namespace) -> int:
    tmp = Path(tempfile.mkdtemp(prefix="sv-bench-idle-"))
    b = Bench(tmp, clean_env())
    missed: list[str] = []
    try:
        with killed_on_exit(b):
            setup(b)
            idle = measure_idle(b, args.window)
            cpu = idle.cpu
            budget = IDLE_BUDGET_S * args.window / 60.0
            print(
                f"idle: {cpu:.3f} s CPU in {args.window:g} s (budget {budget:.3f} s, "
                f"ratio {cpu / budget:.2f}); baseline sleeping python {idle.baseline:.3f} s",
                flush=True,
            )
            if args.verbose:
                print(f"  CPU used by the supervisor before the window: {idle.before:.3f} s")
                if idle.woken is not None:
                    print(f"  its threads were switched in {idle.woken} times in the window")
            if cpu > budget:
                missed.append(f"idle CPU {cpu:.3f} s > {budget:.3f} s")

            latencies, baseline = measure_stop(b, args.trials)
            med = statistics.median(latencies)
            base_med = statistics.median(baseline)
            print(
                f"stop: median {med:.3f} s from touch state/STOP to exit over {args.trials} trials "
                f"(target <= {STOP_TARGET_S:g} s, ratio {med / STOP_TARGET_S:.2f}); "
                f"baseline python -c pass start-to-exit {base_med:.3f} s"
            )
            if args.verbose:
                print("  stop s:    ", " ".join(f"{s:.3f}" for s in latencies))
                print("  baseline s:", " ".join(f"{s:.3f}" for s in baseline))
            if med > STOP_TARGET_S:
                missed.append(f"STOP latency {med:.3f} s > {STOP_TARGET_S:g} s")
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    if missed:
        if args.quick:
            print("  (target missed; --quick does not fail on it: " + "; ".join(missed) + ")")
            return 0
        print("FAIL: " + "; ".join(missed), file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="5 s window, 2 trials, never fails")
    p.add_argument("--window", type=float, default=None, help="idle window in s (60; quick 5)")
    p.add_argument("--trials", type=int, default=None, help="STOP trials (10; quick 2)")
    p.add_argument("--keep", action="store_true", help="keep the temporary home and logs")
    p.add_argument("-v", "--verbose", action="store_true", help="print every timing")
    args = p.parse_args(argv)
    if args.window is None:
        args.window = 5.0 if args.quick else 60.0
    if args.trials is None:
        args.trials = 2 if args.quick else 10
    if args.window <= 0 or args.trials < 1:
        p.error("--window must be positive and --trials at least 1")
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
