"""The morning report: `supervisor stats` as text, JSON and one self-contained HTML page."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from conftest import init_home, make_target, run_cli

from supervisor import store
from supervisor.items import Item

KEYS = [
    "schema_version", "generated_at", "period", "items", "outcomes", "failed", "needs_person",
    "pull_requests", "attempts", "time_per_step_s", "agents", "flaky", "nights", "timeline",
]  # fmt: skip


@pytest.fixture
def ran(tmp_path: Path) -> Path:
    """A home whose night merged one task and failed another."""
    target = make_target(tmp_path / "t", ["Create done/a.txt", "Fail please"])
    home = init_home(tmp_path / "h", target)
    r = run_cli(home, "start", "--until-idle")
    assert r.exit_code == 0, r.output
    return home


def test_stats_text_puts_what_needs_a_person_first(ran: Path) -> None:
    r = run_cli(ran, "stats")
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert lines[0].startswith("period: ") and "(since the last start)" in lines[0]
    assert lines[1] == "needs a person (1):"
    assert "Fail please" in lines[2] and "attempts" in lines[3]
    assert "merged 1" in r.stdout and "failed 1" in r.stdout
    assert re.search(r"attempts: 4 \(1 succeeded, 3 failed: crashed 3\)", r.stdout), r.stdout
    assert "agent command (worker): 4 run(s)" in r.stdout


def test_stats_json_has_the_documented_keys_and_filters(ran: Path) -> None:
    doc = json.loads(run_cli(ran, "stats", "--json").stdout)
    assert list(doc) == KEYS
    assert doc["outcomes"]["merged"] == 1 and doc["outcomes"]["failed"] == 1
    assert doc["outcomes"]["found"] == 2 and doc["items"]["active"] == 2
    assert [p["state"] for p in doc["pull_requests"]] == ["merged"]
    assert doc["pull_requests"][0]["pull"].endswith("/state/forge/pulls/3.json")
    [person] = doc["needs_person"]
    assert person["title"] == "Fail please" and person["issue"].endswith(".json")
    one = json.loads(run_cli(ran, "stats", "--json", "--item", person["item"]).stdout)
    assert one["items"]["total"] == 1 and one["outcomes"]["merged"] == 0
    later = json.loads(
        run_cli(ran, "stats", "--json", "--since", "2099-01-01", "--until", "2099-01-02").stdout
    )
    assert later["items"]["active"] == 0 and not any(later["outcomes"].values())
    everything = json.loads(run_cli(ran, "stats", "--json", "--since", "30d").stdout)
    assert everything["items"]["active"] == 2


def test_stats_errors_say_what_to_do(ran: Path, tmp_path: Path) -> None:
    r = run_cli(ran, "stats", "--since", "yesterday-ish")
    assert r.exit_code == 1 and "give a date (2026-11-20)" in r.stderr
    r = run_cli(ran, "stats", "--item", "nope")
    assert r.exit_code == 1 and "supervisor items" in r.stderr
    r = run_cli(ran, "stats", "--since", "2030-01-02", "--until", "2030-01-01")
    assert r.exit_code == 1 and "is after --until" in r.stderr
    r = run_cli(tmp_path / "empty", "stats")
    assert r.exit_code == 1 and "is not a supervisor home" in r.stderr
    assert run_cli(ran, "stats", "--json", "--html").exit_code == 2


def test_the_html_report_is_one_self_contained_page(ran: Path) -> None:
    r = run_cli(ran, "stats", "--html")
    assert r.exit_code == 0, r.output
    page = (ran / "logs" / "report.html").read_text()
    for chart in ("outcomes", "timeline", "nights"):
        assert f'id="{chart}"' in page or f"id={chart}" in page, chart
    assert "<script src" not in page and "<link" not in page
    assert "@import" not in page and "url(" not in page
    assert not re.search(r'(src|href)="https?://', page)
    assert 'href="../state/forge/pulls/3.json"' in page  # relative to the report
    assert "Fail please" in page


def write_items(home: Path, n: int) -> None:
    """n items in every state, as a long season of nights would leave them."""
    folder = home / "state" / "items"
    folder.mkdir(parents=True, exist_ok=True)
    states = ["merged", "failed", "pr_open", "awaiting_approval", "ignored", "fixing"]
    for i in range(n):
        day = 1 + i % 28
        t = f"2026-10-{day:02}T0{i % 9}:00:00Z"
        item = Item(id=f"task-{i:06}", kind="flaky" if i % 3 else "task", title=f"item {i}")  # type: ignore[arg-type]
        item.state = states[i % len(states)]
        later = [t.replace(":00:00Z", m) for m in (":10:00Z", ":40:00Z")]
        item.history = [
            {"time": t, "from": None, "to": "new", "reason": "found"},
            {"time": later[0], "from": "new", "to": "fixing", "reason": "go"},
            {"time": later[1], "from": "fixing", "to": item.state, "reason": "done"},
        ]
        tokens = {"input": 1000, "output": 200, "cached_input": 0}
        item.attempts = [
            {
                "n": 1,
                "status": "failed" if i % 6 == 1 else "succeeded",
                "started_at": t,
                "failure_reason": "crashed" if i % 6 == 1 else None,
                "agent": {"name": "codex", "tokens": tokens, "cost_usd": None},
            }
        ]
        if i % 3:
            item.source = {"type": "ci", "test": f"TestX{i}"}
            item.reproduction = {
                "before": {"runs": 60, "failures": 6, "rate": 0.1, "ci95": [0.04, 0.2],
                           "verdict": "reproduced", "words": "reproduced: 6 of 60"},
            }  # fmt: skip
        item.issue, item.pull = i + 1, (i + 100000 if item.state in ("merged", "pr_open") else None)  # type: ignore[assignment]
        doc = {**item.to_dict(), "schema_version": store.SCHEMA_VERSION}
        (folder / f"{item.id}.json").write_text(json.dumps(doc))


def test_ten_thousand_items_stay_fast_and_readable(tmp_path: Path) -> None:
    home = init_home(tmp_path / "h", make_target(tmp_path / "t", []))
    write_items(home, 10_000)
    start = time.monotonic()
    r = run_cli(home, "stats", "--html", "--since", "2026-10-01", "--until", "2026-11-01")
    took = time.monotonic() - start
    assert r.exit_code == 0, r.output
    page = (home / "logs" / "report.html").read_text()
    assert took < 30, took
    assert len(page) < 3_000_000, len(page)
    assert page.count("class=row") == 300  # the timeline shows the latest 300 rows
    assert "The 300 most recent of 10000 items." in page
    doc = json.loads(
        run_cli(home, "stats", "--json", "--since", "2026-10-01", "--until", "2026-11-01").stdout
    )
    assert doc["items"]["active"] == 10_000 and len(doc["needs_person"]) == 1667
    assert doc["agents"][0]["runs"] == 10_000
    from browser import chromium, render

    if chromium() is not None:  # and the page stays quick to open
        r = render(home / "logs" / "report.html", tmp_path / "big.png", evaluate=["1"])
        assert r.console_errors == [] and r.seconds < 20, (r.console_errors, r.seconds)


def test_the_report_renders_in_headless_chromium(ran: Path, tmp_path: Path) -> None:
    from browser import chromium, read_png, render

    if chromium() is None:
        pytest.skip("Chromium is not installed (Debian's chromium; .ci/run installs it)")
    assert run_cli(ran, "stats", "--html").exit_code == 0
    shot = tmp_path / "report.png"
    r = render(
        ran / "logs" / "report.html",
        shot,
        full_page=True,
        evaluate=[
            "document.querySelectorAll('svg.chart').length",
            "document.body.getAttribute('data-rendered')",
            "document.querySelectorAll('#timeline rect').length",
        ],
    )
    assert r.console_errors == []
    charts, rendered, spans = r.values
    assert charts >= 3 and rendered == str(charts) and spans >= 2
    width, height, _, rows = read_png(shot)
    assert width == 1280 and height > 900 and len({bytes(row) for row in rows}) > 50


def test_a_report_of_everything_before_any_start(tmp_path: Path) -> None:
    """No start recorded: the period is everything, and the page still renders."""
    home = init_home(tmp_path / "h", make_target(tmp_path / "t", []))
    write_items(home, 12)
    r = run_cli(home, "stats", "--html")
    assert r.exit_code == 0, r.output
    page = (home / "logs" / "report.html").read_text()
    assert "the beginning" in page and "id=timeline" in page
