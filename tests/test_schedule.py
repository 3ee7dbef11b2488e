"""The schedule: a chain every schedule.every, the CI scan only every schedule.scan_every,
remembered across restarts."""

from __future__ import annotations

import json
import time
from pathlib import Path

from conftest import init_home, make_target, run_cli
from test_ci import WAIT_FAILURE, write_log
from test_conversation import configure


def occurrences(home: Path) -> int:
    return sum(
        len(json.loads(p.read_text())["occurrences"])
        for p in (home / "state" / "items").glob("*.json")
    )


def test_the_ci_scan_waits_for_scan_every_even_across_restarts(tmp_path: Path) -> None:
    home = init_home(tmp_path / "h", make_target(tmp_path / "t", []))
    logs = tmp_path / "logs"
    write_log(logs, "run-1.log", WAIT_FAILURE.format(line=41, dur="30"))
    configure(home, logs_dir=str(logs), scan_every="1d")
    assert run_cli(home, "start", "--once").exit_code == 0
    assert occurrences(home) == 1
    write_log(logs, "run-2.log", WAIT_FAILURE.format(line=41, dur="31"))
    r = run_cli(home, "start", "--once")  # a restart: the scan is not due for a day
    assert r.exit_code == 0 and occurrences(home) == 1
    assert "CI scan: next one at " in (home / "logs" / "supervisor.log").read_text()
    assert run_cli(home, "scan").exit_code == 0  # asked for by name: it runs now
    assert occurrences(home) == 2
    configure(home, scan_every="1s")
    time.sleep(1.1)
    write_log(logs, "run-3.log", WAIT_FAILURE.format(line=41, dur="32"))
    assert run_cli(home, "start", "--once").exit_code == 0
    assert occurrences(home) == 3
