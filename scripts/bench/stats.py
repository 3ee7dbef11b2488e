#!/usr/bin/env python3
"""Benchmark: `supervisor stats --json` and `--html` over a long season of nights.

A home with 10,000 items (every state; attempts, agent runs, flaky figures) and 30,000 result
files is generated once. Timed, as whole processes, alternating over N rounds:

- ours: `python -m supervisor stats --json` and `... --html`, over the whole period;
- baseline: a plain `python -c` that only loads the same JSON files the report reads (the
  items), with the json module. A second baseline also loads the 30,000 result files, which the
  report does not need (every attempt is in its item), for context.

Figure: median(ours) / median(baseline). Target: <= 2.

    python scripts/bench/stats.py           # about a minute
    python scripts/bench/stats.py --quick   # CI smoke run: 1,000 items, never fails
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET = 2.0
LOAD = """
import json, pathlib, sys
docs = [json.loads(p.read_bytes()) for p in pathlib.Path(sys.argv[1]).glob('*.json')]
"""
FLAKY = {
    "runs": 60,
    "failures": 6,
    "rate": 0.1,
    "ci95": [0.04, 0.2],
    "verdict": "reproduced",
    "words": "reproduced: 6 of 60 runs failed",
}
STATES = ["merged", "failed", "pr_open", "awaiting_approval", "ignored", "fixing", "closed_wontfix"]


def generate(home: Path, items: int, results: int) -> None:
    (home / "state" / "items").mkdir(parents=True)
    (home / "state" / "results").mkdir(parents=True)
    (home / "supervisor.yaml").write_text(f"target: {home / 'target'}\n")
    for i in range(items):
        t = f"2026-{9 + i % 3:02}-{1 + i % 28:02}T0{i % 9}:00:00Z"
        state = STATES[i % len(STATES)]
        later = [t.replace(":00:00Z", m) for m in (":10:00Z", ":40:00Z")]
        doc = {
            "schema_version": 1,
            "id": f"fp-{i:012x}",
            "kind": "flaky" if i % 3 else "task",
            "title": f"Flaky test: TestSomething{i}",
            "state": state,
            "issue": i + 1,
            "pull": i + 50_000 if state in ("merged", "pr_open") else None,
            "source": {"type": "ci", "test": f"TestSomething{i}"},
            "history": [
                {"time": t, "from": None, "to": "new", "reason": "found in CI"},
                {"time": later[0], "from": "new", "to": "fixing", "reason": "dispatching"},
                {"time": later[1], "from": "fixing", "to": state, "reason": "done"},
            ],
            "attempts": [
                {
                    "n": 1,
                    "status": "failed" if state == "failed" else "succeeded",
                    "started_at": t,
                    "failure_reason": "crashed" if state == "failed" else None,
                    "agent": {
                        "name": "claude",
                        "tokens": {"input": 12000, "output": 900, "cached_input": 4000},
                        "cost_usd": 0.05,
                    },
                }
            ],
            "reproduction": {"before": FLAKY} if i % 3 else {},
            "created_at": t,
            "updated_at": later[1],
        }
        (home / "state" / "items" / f"{doc['id']}.json").write_text(json.dumps(doc))
    for n in range(results):
        doc = {"schema_version": 1, "issue_id": str(n), "status": "success", "attempt": 1}
        (home / "state" / "results" / f"issue-{n}.json").write_text(json.dumps(doc))


def timed(argv: list[str]) -> float:
    start = time.monotonic()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    return time.monotonic() - start


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="1,000 items, 2 rounds; never fails")
    ap.add_argument("--rounds", type=int, default=None)
    args = ap.parse_args()
    items, results = (1_000, 3_000) if args.quick else (10_000, 30_000)
    rounds = args.rounds or (2 if args.quick else 5)
    with tempfile.TemporaryDirectory(prefix="sv-bench-stats-") as tmp:
        home = Path(tmp) / "home"
        generate(home, items, results)
        py = sys.executable
        sv = [py, "-m", "supervisor", "--home", str(home), "stats", "--since", "2026-01-01"]
        cases = {
            "json": [*sv, "--json"],
            "html": [*sv, "--html", "--out", str(Path(tmp) / "report.html")],
            "load items": [py, "-c", LOAD, str(home / "state" / "items")],
            "load results": [py, "-c", LOAD, str(home / "state" / "results")],
        }
        times: dict[str, list[float]] = {k: [] for k in cases}
        for _ in range(rounds):
            for name, argv in cases.items():
                times[name].append(timed(argv))
        med = {k: statistics.median(v) for k, v in times.items()}
        both = med["load items"] + med["load results"]
        ok = True
        for name in ("json", "html"):
            ratio = med[name] / med["load items"]
            ok &= ratio <= TARGET
            print(
                f"stats --{name}: {med[name]:.2f}s over {items} items; loading the items alone "
                f"{med['load items']:.2f}s: ratio {ratio:.2f} (target <= {TARGET}); with the "
                f"{results} result files too {both:.2f}s: ratio {med[name] / both:.2f}"
            )
        size = (Path(tmp) / "report.html").stat().st_size
        print(f"report.html: {size / 1024:.0f} KiB; medians of {rounds} rounds")
    if not ok and not args.quick:
        return 1
    if not ok:
        print("(target missed; --quick does not fail on it)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
