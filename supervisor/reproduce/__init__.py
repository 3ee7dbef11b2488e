"""Reproduce and verify flaky tests with numbers: stress runs, exact intervals, plain verdicts.

spec = build_spec(test, path, runner, cfg.reproduce, build_dir)
m, v = measure_before(spec, cfg.reproduce, logs_dir)          # how often does it fail?
m, v = measure_after(spec, before_figures, cfg.reproduce, ...)  # is the fix proven?
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from supervisor.config import Reproduce
from supervisor.errors import UserError
from supervisor.reproduce import runners, verdict
from supervisor.reproduce.runners import Amplifiers, RunSpec
from supervisor.reproduce.stress import Measurement, stress
from supervisor.reproduce.verdict import Verdict

Progress = Callable[[Measurement], None]


def parallelism(value: str | int) -> int:
    if value == "auto":
        return max(1, os.cpu_count() or 1)
    return max(1, int(value))


def amplifiers(r: Reproduce) -> Amplifiers:
    return Amplifiers(race=r.race, cpu=r.cpu, gomaxprocs=r.gomaxprocs, shuffle=r.shuffle)


def build_spec(
    test: str,
    path: Path,
    runner: str,
    r: Reproduce,
    build_dir: Path,
    package: str = "",
    stop_event: threading.Event | None = None,
) -> RunSpec:
    """How to run the test once; a Go test binary is built here, once."""
    if not path.is_dir():
        raise UserError(f"{path} is not a folder: give the test's folder with --path")
    if runner in ("auto", "none"):
        runner = runners.detect(path)
    if runner == "go":
        build_dir.mkdir(parents=True, exist_ok=True)
        return runners.go_spec(test, path, build_dir, amplifiers(r), r.timeout, stop_event)
    if runner == "pytest":
        return runners.pytest_spec(test, path)
    if runner == "command":
        return runners.command_spec(test, path, r.command, package)
    raise UserError(f"unknown runner {runner!r}: go, pytest or command")


def measure_before(
    spec: RunSpec,
    r: Reproduce,
    logs_dir: Path,
    *,
    runs: int | None = None,
    budget: float | None = None,
    parallel: int | None = None,
    stop_event: threading.Event | None = None,
    progress: Progress | None = None,
) -> tuple[Measurement, Verdict]:
    m = stress(
        spec,
        runs or r.runs,
        parallel or parallelism(r.parallel),
        r.budget if budget is None else budget,
        r.timeout,
        logs_dir,
        stop_event=stop_event,
        decide=verdict.before_decider(),
        progress=progress,
        burners=r.stress,
    )
    return m, verdict.before(m)


def measure_after(
    spec: RunSpec,
    before: dict[str, Any] | None,
    r: Reproduce,
    logs_dir: Path,
    *,
    budget: float | None = None,
    parallel: int | None = None,
    stop_event: threading.Event | None = None,
    progress: Progress | None = None,
) -> tuple[Measurement, Verdict]:
    """The candidate's runs: as many as the rate before requires (stopping at the first failure),
    or, with nothing to compare against, reproduce.runs."""
    planned = verdict.plan(before)
    runs = planned[1] if planned else r.runs
    m = stress(
        spec,
        runs,
        parallel or parallelism(r.parallel),
        r.budget if budget is None else budget,
        r.timeout,
        logs_dir,
        stop_event=stop_event,
        decide=verdict.after_decider(runs),
        progress=progress,
        burners=r.stress,
    )
    return m, verdict.after(before, m)


def report(m: Measurement, v: Verdict) -> dict[str, Any]:
    """The documented JSON of `supervisor reproduce --json` (more keys after the first eight)."""
    figures = m.figures()
    return {
        "test": m.test,
        "runs": m.runs,
        "failures": m.failures,
        "rate": figures["rate"],
        "ci95": figures["ci95"],
        "fingerprints": m.fingerprints,
        "verdict": v.verdict,
        "seconds_per_run": figures["seconds_per_run"],
        "words": v.words,
        **{k: figures[k] for k in ("command", "timeouts", "failed_logs", "wall_s", "parallel")},
        "ended": m.ended,
    }


__all__ = [
    "Measurement",
    "Verdict",
    "build_spec",
    "measure_after",
    "measure_before",
    "parallelism",
    "report",
]
