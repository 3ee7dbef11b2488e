"""Items, their one state machine, and the store that saves them.

The state machine is the table ``TRANSITIONS`` below and nothing else: :meth:`ItemStore.transition`
refuses any move it does not list (a bug, raised as TransitionError), appends every move to the
item's history and to logs/events.jsonl, and saves the item atomically before returning.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from supervisor import store
from supervisor.errors import StateCorrupt, TransitionError
from supervisor.ids import IssueNumber, ItemId
from supervisor.redact import redact

log = logging.getLogger("supervisor.items")

# In the order DESIGN.md lists them (a tuple: the order shows in help texts and reports).
TERMINAL_STATES = ("merged", "closed_wontfix", "duplicate", "ignored", "failed")
TERMINAL = frozenset(TERMINAL_STATES)

TRANSITIONS: dict[str, frozenset[str]] = {
    "new": frozenset({"triaged", "duplicate", "ignored"}),
    "triaged": frozenset(
        {"analyzed", "awaiting_approval", "approved", "duplicate", "ignored", "closed_wontfix"}
    ),
    "analyzed": frozenset({"awaiting_approval", "approved", "closed_wontfix"}),
    "awaiting_approval": frozenset({"approved", "closed_wontfix"}),
    "approved": frozenset({"fixing", "closed_wontfix"}),
    # fixing -> fixing: a failed attempt followed by the next one.
    "fixing": frozenset({"fixing", "verifying", "failed", "closed_wontfix"}),
    "verifying": frozenset({"reviewing", "fixing", "failed", "closed_wontfix"}),
    "reviewing": frozenset({"publishing", "fixing", "failed", "closed_wontfix"}),
    # publishing -> verifying: the base moved, the rebased candidate is proven again.
    "publishing": frozenset({"pr_open", "verifying", "fixing", "failed", "closed_wontfix"}),
    "pr_open": frozenset({"changes_requested", "merged", "closed_wontfix", "verifying"}),
    "changes_requested": frozenset({"fixing", "failed", "closed_wontfix"}),
    **{state: frozenset() for state in TERMINAL_STATES},
}
STATES = tuple(TRANSITIONS)


def now_utc() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Item:
    id: ItemId
    kind: str  # task | issue | flaky | regression | gate
    title: str
    state: str = "new"
    body: str = ""
    fingerprint: str = ""
    source: dict[str, Any] = field(default_factory=dict)
    issue: IssueNumber | None = None  # forge issue number
    pull: int | None = None  # forge pull request number
    base_sha: str | None = None  # the base the current candidate sits on
    head_sha: str | None = None  # the current candidate
    pushed_sha: str | None = None  # what the forge's branch holds (remote forges)
    verified: dict[str, Any] | None = None  # {"base_sha", "head_sha", "gate": "fast"|"slow"}
    feedback: str = ""  # what the next attempt must address
    # The conversation on the forge: watermarks (the last comment, review, review comment seen),
    # the analysis comment, replies, approval, review rounds. Kept here, not in cursors.json, so
    # that a watermark is saved in the same atomic write as what was done about the comment.
    conversation: dict[str, Any] = field(default_factory=dict)
    needs_person: str = ""  # why the supervisor stopped and waits for a person ("" = it does not)
    reproduction: dict[str, Any] = field(default_factory=dict)  # {"before": figures} (flaky)
    attempts: list[dict[str, Any]] = field(default_factory=list)
    occurrences: list[dict[str, Any]] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)
    seq: int = 0  # the order items were found in, for a stable work order
    created_at: str = field(default_factory=now_utc)
    updated_at: str = field(default_factory=now_utc)

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL

    @property
    def branch(self) -> str:
        if self.issue is None:
            raise TransitionError(f"item {self.id} has no forge issue yet, so no branch")
        return f"supervisor/issue-{self.issue}"

    def current_attempt(self) -> dict[str, Any] | None:
        return self.attempts[-1] if self.attempts else None

    def counted_attempts(self) -> int:
        """Attempts that count against the cap (interrupted ones do not)."""
        return sum(1 for a in self.attempts if a.get("status") == "failed")

    def agent_runs(self) -> list[dict[str, Any]]:
        """Every agent run of the item, worker, reviewer and analyst alike:
        {"at", "role", "name", "tokens", "cost_usd"} (derived, never stored twice)."""
        runs = []
        for a in self.attempts:
            for role, agent in (
                ("worker", a.get("agent")),
                ("reviewer", (a.get("review") or {}).get("agent")),
            ):
                if agent:
                    runs.append({"at": a.get("started_at", ""), "role": role, **agent})
        for run in self.conversation.get("agent_runs", []):
            runs.append({"role": "analyst", **run})
        return runs

    def agent_totals(self, since: str = "") -> dict[str, Any]:
        """Tokens and cost of the item's agent runs (since an ISO time), summed."""
        return sum_runs(r for r in self.agent_runs() if str(r.get("at", "")) >= since)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Item:
        known = set(cls.__dataclass_fields__)
        data = {k: v for k, v in doc.items() if k in known}
        item = cls(**data)
        if item.state not in TRANSITIONS:
            raise ValueError(f"unknown state {item.state!r}")
        return item


def sum_runs(runs: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """{"runs", "tokens": {input, output, cached_input}, "cost_usd"} of agent run summaries;
    cost_usd stays None when no run reported one (codex reports tokens only)."""
    tokens = {"input": 0, "output": 0, "cached_input": 0}
    cost: float | None = None
    count = 0
    for run in runs:
        count += 1
        for key in tokens:
            tokens[key] += int((run.get("tokens") or {}).get(key) or 0)
        if run.get("cost_usd") is not None:
            cost = (cost or 0.0) + float(run["cost_usd"])
    return {"runs": count, "tokens": tokens, "cost_usd": cost}


def usage_words(tokens: dict[str, Any] | None, cost: float | None, digits: int = 2) -> str:
    """ ", tokens in A (cached C), out O, $X" for an agent's usage; the tokens only when some were
    reported (command agents report none), the cost only when known (codex reports none)."""
    t = tokens or {}
    used = (
        f", tokens in {t.get('input', 0)} (cached {t.get('cached_input', 0)}), "
        f"out {t.get('output', 0)}"
        if any(t.values())
        else ""
    )
    return used + ("" if cost is None else f", ${cost:.{digits}f}")


class EventLog:
    """logs/events.jsonl: one JSON object a line, appended."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, event: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = redact(json.dumps({"time": now_utc(), **event}, sort_keys=True)) + "\n"
        data = line.encode()
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                data = b"\n" + data  # end a line torn by a kill -9, so this one stays whole
            while data:
                data = data[os.write(fd, data) :]
        finally:
            os.close(fd)

    def read(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        out = []
        for line in self.path.read_text(errors="replace").splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                continue  # a line torn by a kill -9 is skipped, not fatal
        return out


class ItemStore:
    def __init__(self, folder: Path, events: EventLog) -> None:
        self.folder = folder
        self.events = events

    def path(self, item_id: str) -> Path:
        return self.folder / f"{item_id}.json"

    def get(self, item_id: str) -> Item | None:
        doc = store.read_json(self.path(item_id), "item")
        return None if doc is None else self._parse(self.path(item_id), doc)

    def _parse(self, path: Path | str, doc: dict[str, Any]) -> Item:
        try:
            return Item.from_dict(doc)
        except (TypeError, ValueError) as e:
            aside = store.quarantine(Path(path))
            raise StateCorrupt(
                f"item file {path} is not a valid item ({e}); moved aside to {aside.name}"
            ) from e

    def all(self) -> list[Item]:
        """Every readable item, oldest first; unreadable files are moved aside and logged."""
        items = []
        if not self.folder.exists():
            return []
        # os.scandir and plain names: with thousands of items, pathlib's per-file cost shows.
        names = sorted(e.name for e in os.scandir(self.folder) if e.name.endswith(".json"))
        folder = str(self.folder)
        for name in names:
            full = os.path.join(folder, name)  # a Path only when something is wrong
            try:
                with open(full, "rb") as f:
                    raw = f.read()
            except FileNotFoundError:
                continue  # removed meanwhile
            try:
                items.append(self._parse(full, store.parse_json(full, raw, "item")))
            except StateCorrupt as e:
                log.error("%s", e)
                self.events.append({"event": "state_corrupt", "file": full, "error": str(e)})
        items.sort(key=lambda i: (i.created_at, i.seq, i.id))
        return items

    def save(self, item: Item) -> None:
        item.updated_at = now_utc()
        store.write_json(self.path(item.id), item.to_dict())

    def create(self, item: Item, reason: str) -> None:
        item.history.append({"time": now_utc(), "from": None, "to": item.state, "reason": reason})
        self.save(item)
        self.events.append(
            {
                "event": "transition",
                "item": item.id,
                "from": None,
                "to": item.state,
                "reason": reason,
            }
        )

    def transition(self, item: Item, to: str, reason: str, **figures: Any) -> None:
        """Move item to state `to`; saved atomically before this returns."""
        allowed = TRANSITIONS.get(item.state, frozenset())
        if to not in allowed:
            raise TransitionError(
                f"item {item.id}: transition {item.state} -> {to} is not allowed "
                f"(allowed: {', '.join(sorted(allowed)) or 'none, the state is terminal'})"
            )
        entry: dict[str, Any] = {"time": now_utc(), "from": item.state, "to": to, "reason": reason}
        if figures:
            entry["figures"] = figures
        item.history.append(entry)
        item.state = to
        self.save(item)
        log.info("%s: %s -> %s (%s)", item.id, entry["from"], to, reason)
        self.events.append(
            {
                "event": "transition",
                "item": item.id,
                **{k: v for k, v in entry.items() if k != "time"},
            }
        )


def store_of(items_dir: Path, events_file: Path) -> ItemStore:
    """The item store of a home (app.item_store without importing the whole app)."""
    return ItemStore(items_dir, EventLog(events_file))
