#!/usr/bin/env python3
"""Benchmark: how many runs the verification of a flaky-test fix needs, and parallel throughput.

(a) runs to a verdict: for tests with true failure rates of 2%, 5% and 20%, a reproduction before
    the fix (max(60, 3/rate) runs, so that it reproduces), then the verification of a real fix
    (the test no longer fails) with the supervisor's plan and sequential decision
    (supervisor.reproduce.verdict). Reported: the median number of runs the verification needs,
    as a ratio against a fixed count of 100 runs, and how often a candidate that only halves the
    rate is wrongly accepted: at most 5% when it is half the rate the reproduction measured (what
    the plan guarantees); against half the true rate a little more often, because the measured
    rate itself is uncertain. The trials are simulated with the same
    decision code (a Bernoulli source per run); one real trial per rate runs the real stress runner
    on a shell test, to check that the real runs agree with the simulation.

(b) parallel throughput: the same 24 runs of a CPU-light test (a 0.2 s sleep) through the real
    stress runner, 2 at a time against 1 at a time, in the same session. Target: >= 1.7x.

    python scripts/bench/reproduce.py           # about 30 s
    python scripts/bench/reproduce.py --quick   # CI smoke run: fewer trials, never fails
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from supervisor.config import Reproduce
from supervisor.reproduce import measure_after, verdict
from supervisor.reproduce.runners import command_spec
from supervisor.reproduce.stress import Outcome, stress

RATES = (0.02, 0.05, 0.20)
FIXED_BASELINE = 100
THROUGHPUT_TARGET = 1.7


def before_runs(rate: float) -> int:
    return max(60, int(3 / rate))


def simulate(rate: float, rng: random.Random, after: str) -> tuple[int, bool] | None:
    """One trial: (runs the verification used, accepted), or None when not reproduced.
    after: "fixed" (never fails), "half-true" (half the true rate), "half-measured" (half the
    rate the reproduction measured: what the plan guarantees against)."""
    n = before_runs(rate)
    k = sum(rng.random() < rate for _ in range(n))
    planned = verdict.plan({"failures": k, "runs": n})
    if planned is None:
        return None
    after_rate = {"fixed": 0.0, "half-true": rate / 2, "half-measured": planned[0]}[after]
    decide = verdict.after_decider(planned[1])
    outcomes: list[Outcome] = []
    while not decide(outcomes):
        outcomes.append(Outcome(len(outcomes) + 1, rng.random() >= after_rate, 0, 0.0))
    accepted = all(o.ok for o in outcomes) and len(outcomes) >= planned[1]
    return len(outcomes), accepted


def real_trial(rate: float, work: Path) -> int:
    """The real stress runner on a shell test that fails at `rate` before and never after."""
    seed = random.randrange(1 << 30)
    flaky = f"awk -v r=$SUPERVISOR_RUN_INDEX 'BEGIN{{srand(r*7919+{seed}); exit (rand()<{rate})}}'"
    r = Reproduce(runs=before_runs(rate), parallel="2", budget=600.0, timeout=30.0)
    before = stress(command_spec("t", work, flaky), r.runs, 2, 600.0, 30.0, work / "b")
    figures = before.figures()
    m, _ = measure_after(command_spec("t", work, "true"), figures, r, work / "a")
    return m.runs


def throughput(work: Path, runs: int) -> tuple[float, float]:
    spec = command_spec("t", work, "sleep 0.2")
    times = []
    for parallel in (1, 2):
        start = time.monotonic()
        m = stress(spec, runs, parallel, 600.0, 30.0, work / f"p{parallel}")
        assert m.runs == runs and m.failures == 0
        times.append(time.monotonic() - start)
    return times[0], times[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer trials; never fails")
    ap.add_argument("--trials", type=int, default=None, help="simulated trials per rate")
    ap.add_argument("--seed", type=int, default=None)
    args = ap.parse_args()
    trials = args.trials or (200 if args.quick else 4000)
    rng = random.Random(args.seed)
    ok = True
    with tempfile.TemporaryDirectory(prefix="sv-bench-reproduce-") as tmp:
        work = Path(tmp)
        for rate in RATES:
            fixed = [simulate(rate, rng, "fixed") for _ in range(trials)]
            runs = [t[0] for t in fixed if t is not None]
            wrong = {
                kind: sum(1 for _ in range(trials) if (t := simulate(rate, rng, kind)) and t[1])
                / trials
                for kind in ("half-measured", "half-true")
            }
            median = statistics.median(runs)
            real = real_trial(rate, work / f"r{rate}")
            print(
                f"reproduce {rate:.0%}: verification of a fix needs a median of {median:.0f} runs "
                f"(ratio {median / FIXED_BASELINE:.2f} against a fixed {FIXED_BASELINE}); "
                f"a candidate at half the measured rate accepted in {wrong['half-measured']:.1%} "
                f"of trials (at most 5%), at half the true rate in {wrong['half-true']:.1%}; "
                f"one real trial: {real} runs; {trials} simulated trials"
            )
            ok &= wrong["half-measured"] <= 0.05 + 3 * (0.05 * 0.95 / trials) ** 0.5
        runs = 12 if args.quick else 24
        seq, par = throughput(work, runs)
        ratio = seq / par
        print(
            f"parallel: {runs} runs of a 0.2 s test, 1 at a time {seq:.2f}s, 2 at a time "
            f"{par:.2f}s: ratio {ratio:.2f} (target >= {THROUGHPUT_TARGET})"
        )
        ok &= ratio >= THROUGHPUT_TARGET
    if not ok and not args.quick:
        return 1
    if not ok:
        print("(a target missed; --quick does not fail on it)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
