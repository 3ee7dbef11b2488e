"""Items: the one state machine, and the store that saves every move atomically."""

from __future__ import annotations

import itertools
import json
import logging
import re
from collections import deque
from pathlib import Path

import pytest

from supervisor import store
from supervisor.errors import StateCorrupt, TransitionError
from supervisor.ids import ItemId
from supervisor.items import STATES, TERMINAL, TRANSITIONS, EventLog, Item, ItemStore

# DESIGN.md, "Item states".
DESIGN_FLOW = [
    "new",
    "triaged",
    "analyzed",
    "awaiting_approval",
    "approved",
    "fixing",
    "verifying",
    "reviewing",
    "publishing",
    "pr_open",
]
DESIGN_EDGES = [
    *itertools.pairwise(DESIGN_FLOW),
    ("pr_open", "changes_requested"),
    ("changes_requested", "fixing"),
    ("pr_open", "merged"),
]
DESIGN_TERMINAL = {"merged", "closed_wontfix", "duplicate", "ignored", "failed"}
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


@pytest.fixture
def items(tmp_path: Path) -> ItemStore:
    return ItemStore(tmp_path / "state" / "items", EventLog(tmp_path / "logs" / "events.jsonl"))


def reachable(start: str, without: str | None = None) -> set[str]:
    seen = {start}
    todo = deque([start])
    while todo:
        for nxt in TRANSITIONS[todo.popleft()]:
            if nxt not in seen and nxt != without:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def event_lines(items: ItemStore) -> list[str]:
    path = items.events.path
    return path.read_text().splitlines() if path.exists() else []


# -- the table ----------------------------------------------------------------------------------


def test_states_are_the_design_states() -> None:
    assert set(STATES) == set(DESIGN_FLOW) | {"changes_requested"} | DESIGN_TERMINAL
    assert len(STATES) == len(set(STATES))
    assert set(TERMINAL) == DESIGN_TERMINAL


@pytest.mark.parametrize(("src", "dst"), DESIGN_EDGES)
def test_the_design_flow_is_allowed(src: str, dst: str) -> None:
    assert dst in TRANSITIONS[src]


def test_every_target_of_the_table_is_a_state() -> None:
    for src, targets in TRANSITIONS.items():
        assert targets <= set(STATES), src


@pytest.mark.parametrize("state", sorted(DESIGN_TERMINAL))
def test_terminal_states_allow_nothing(state: str) -> None:
    assert TRANSITIONS[state] == frozenset()


@pytest.mark.parametrize("state", sorted(set(STATES) - DESIGN_TERMINAL))
def test_every_live_state_can_reach_an_end(state: str) -> None:
    assert TRANSITIONS[state], f"{state} is a dead end"
    assert reachable(state) & DESIGN_TERMINAL, f"{state} never ends"


def test_every_state_is_reachable_from_new() -> None:
    assert reachable("new") == set(STATES)


@pytest.mark.parametrize("gate", ["verifying", "reviewing", "publishing", "pr_open"])
def test_nothing_merges_without_passing_the_gates(gate: str) -> None:
    assert "merged" not in reachable("new", without=gate)


def test_no_shortcuts_past_the_gates() -> None:
    into = {s: {src for src, dst in TRANSITIONS.items() if s in dst} for s in STATES}
    assert into["publishing"] == {"reviewing"}
    assert into["merged"] == {"pr_open"}
    assert into["pr_open"] == {"publishing"}
    assert into["reviewing"] == {"verifying"}


# -- the store ----------------------------------------------------------------------------------


def test_create_saves_and_logs(items: ItemStore) -> None:
    item = Item(ItemId("task-1"), "task", "Create done/one.txt")
    items.create(item, "found in tasks.md")
    saved = items.get("task-1")
    assert saved is not None
    assert saved.state == "new"
    assert saved.history == [
        {"time": saved.history[0]["time"], "from": None, "to": "new", "reason": "found in tasks.md"}
    ]
    (line,) = event_lines(items)
    event = json.loads(line)
    assert event == {
        "event": "transition",
        "item": "task-1",
        "from": None,
        "to": "new",
        "reason": "found in tasks.md",
        "time": event["time"],
    }
    assert TIME.match(event["time"])


def test_transition_saves_and_appends_one_event(items: ItemStore) -> None:
    item = Item(ItemId("task-1"), "task", "t")
    items.create(item, "found")
    items.transition(item, "triaged", "a task needs no triage", attempts=1)

    reread = ItemStore(items.folder, items.events).get("task-1")
    assert reread is not None
    assert reread.state == "triaged"
    last = reread.history[-1]
    assert TIME.match(last["time"])
    assert {k: v for k, v in last.items() if k != "time"} == {
        "from": "new",
        "to": "triaged",
        "reason": "a task needs no triage",
        "figures": {"attempts": 1},
    }
    lines = event_lines(items)
    assert len(lines) == 2
    assert json.loads(lines[1]) == {
        "event": "transition",
        "item": "task-1",
        "from": "new",
        "to": "triaged",
        "reason": "a task needs no triage",
        "figures": {"attempts": 1},
        "time": json.loads(lines[1])["time"],
    }
    # Atomic: the item file is complete JSON, no temporary file is left.
    assert sorted(p.name for p in items.folder.iterdir()) == ["task-1.json"]
    doc = json.loads(items.path("task-1").read_text())
    assert doc["schema_version"] == store.SCHEMA_VERSION
    assert doc["state"] == "triaged"


def test_a_forbidden_transition_changes_nothing(items: ItemStore) -> None:
    item = Item(ItemId("task-1"), "task", "t")
    items.create(item, "found")
    before_file = items.path("task-1").read_bytes()
    before_events = items.events.path.read_bytes()

    with pytest.raises(TransitionError) as info:
        items.transition(item, "merged", "skip everything")

    assert str(info.value) == (
        "item task-1: transition new -> merged is not allowed "
        "(allowed: duplicate, ignored, triaged)"
    )
    assert item.state == "new"
    assert len(item.history) == 1
    assert items.path("task-1").read_bytes() == before_file
    assert items.events.path.read_bytes() == before_events


def test_a_terminal_item_cannot_move(items: ItemStore) -> None:
    item = Item(ItemId("task-1"), "task", "t", state="merged")
    items.save(item)
    with pytest.raises(TransitionError, match="allowed: none, the state is terminal"):
        items.transition(item, "fixing", "again")
    assert items.get("task-1").state == "merged"  # type: ignore[union-attr]
    assert event_lines(items) == []


def test_all_moves_corrupt_files_aside_and_returns_the_rest(
    items: ItemStore, caplog: pytest.LogCaptureFixture
) -> None:
    for n, name in enumerate(("a", "d")):
        items.save(
            Item(ItemId(name), "task", name.upper(), seq=n, created_at="2026-01-01T00:00:00Z")
        )
    items.path("b").write_bytes(b"\x89PNG garbage")
    good = json.loads(items.path("a").read_text())
    items.path("c").write_text(json.dumps({**good, "id": "c", "state": "limbo"}))
    items.path("e").write_text(json.dumps({"schema_version": 1, "id": "e"}))

    with caplog.at_level(logging.ERROR, logger="supervisor"):
        found = items.all()

    assert [i.id for i in found] == ["a", "d"]
    names = sorted(p.name for p in items.folder.iterdir())
    assert [n for n in names if ".corrupt-" not in n] == ["a.json", "d.json"]
    assert [n.split(".corrupt-")[0] for n in names if ".corrupt-" in n] == [
        "b.json",
        "c.json",
        "e.json",
    ]
    (aside_b,) = items.folder.glob("b.json.corrupt-*")
    assert aside_b.read_bytes() == b"\x89PNG garbage"
    events = [json.loads(line) for line in event_lines(items)]
    assert [e["event"] for e in events] == ["state_corrupt"] * 3
    assert [Path(e["file"]).name for e in events] == ["b.json", "c.json", "e.json"]
    assert "unknown state 'limbo'" in events[1]["error"]
    assert "moved aside" in caplog.text
    # The next listing is quiet: the bad files are out of the way.
    assert [i.id for i in items.all()] == ["a", "d"]
    assert len(event_lines(items)) == 3


def test_get_of_an_item_with_an_unknown_state_raises_and_quarantines(items: ItemStore) -> None:
    items.save(Item(ItemId("x"), "task", "t"))
    doc = json.loads(items.path("x").read_text())
    items.path("x").write_text(json.dumps({**doc, "state": "limbo"}))
    with pytest.raises(StateCorrupt, match=r"not a valid item \(unknown state 'limbo'\)"):
        items.get("x")
    assert not items.path("x").exists()
    assert len(store.corrupt_files(items.folder)) == 1


def test_all_orders_items_by_creation(items: ItemStore) -> None:
    items.save(Item(ItemId("z"), "task", "z", seq=1, created_at="2026-01-01T00:00:00Z"))
    items.save(Item(ItemId("a"), "task", "a", seq=2, created_at="2026-01-01T00:00:00Z"))
    items.save(Item(ItemId("m"), "task", "m", seq=0, created_at="2025-12-31T00:00:00Z"))
    assert [i.id for i in items.all()] == ["m", "z", "a"]


def test_event_log_skips_a_torn_last_line(tmp_path: Path) -> None:
    log = EventLog(tmp_path / "events.jsonl")
    log.append({"event": "a"})
    log.append({"event": "b"})
    with open(log.path, "a") as f:
        f.write('{"event": "c", "ti')
    assert [e["event"] for e in log.read()] == ["a", "b"]


def test_event_log_append_after_a_torn_line_is_readable(tmp_path: Path) -> None:
    log = EventLog(tmp_path / "events.jsonl")
    log.append({"event": "a"})
    with open(log.path, "a") as f:
        f.write('{"event": "torn')
    log.append({"event": "b"})
    assert [e["event"] for e in log.read()] == ["a", "b"]


def test_event_log_redacts_secrets(tmp_path: Path) -> None:
    log = EventLog(tmp_path / "events.jsonl")
    token = "ghp_" + "a1B2" * 10
    log.append({"event": "x", "reason": f"push failed with {token}"})
    assert token not in log.path.read_text()
    assert log.read()[0]["reason"] == "push failed with ***"


def test_event_log_of_a_missing_file_is_empty(tmp_path: Path) -> None:
    assert EventLog(tmp_path / "none.jsonl").read() == []
