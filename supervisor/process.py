"""state/supervisor.json: the running supervisor (pid, phase, item, heartbeat, its agent child).

Liveness is checked with psutil against the recorded process creation time, so a reused pid is
not mistaken for the supervisor. The agent child's pid is recorded as soon as it starts, so that
after a kill -9 of the supervisor the next start can find and kill an orphaned agent before it
touches the worktree again.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import Any

import psutil

from supervisor import shell, store
from supervisor.errors import StateCorrupt
from supervisor.home import Home
from supervisor.items import now_utc

log = logging.getLogger("supervisor.process")


def _create_time(pid: int) -> float | None:
    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return None


def is_alive(pid: int | None, create_time: float | None) -> bool:
    if not pid:
        return False
    actual = _create_time(pid)
    if actual is None:
        return False
    try:
        if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
            return False
    except psutil.Error:
        return False
    return create_time is None or abs(actual - create_time) < 1.0


@dataclass
class Running:
    pid: int
    phase: str
    item: str | None
    started_at: str
    heartbeat: str
    doc: dict[str, Any]


class ProcessState:
    def __init__(self, home: Home) -> None:
        self.home = home
        self.doc: dict[str, Any] = {}
        self._lock = threading.Lock()  # the heartbeat thread writes too

    def read(self) -> dict[str, Any] | None:
        try:
            return store.read_json(self.home.process_file, "process")
        except StateCorrupt as e:
            log.error("%s", e)
            return None

    def running(self) -> Running | None:
        """The live supervisor of this home, if any."""
        doc = self.read()
        if not doc or doc.get("state") != "running":
            return None
        if not is_alive(doc.get("pid"), doc.get("create_time")):
            return None
        return Running(
            doc["pid"],
            doc.get("phase", "?"),
            doc.get("item"),
            doc.get("started_at", ""),
            doc.get("heartbeat", ""),
            doc,
        )

    def begin(self, mode: dict[str, Any]) -> None:
        pid = os.getpid()
        self.doc = {
            "state": "running",
            "pid": pid,
            "create_time": _create_time(pid),
            "started_at": now_utc(),
            "heartbeat": now_utc(),
            "phase": "starting",
            "item": None,
            "child": None,
            "mode": mode,
        }
        self._write()

    def update(self, **changes: Any) -> None:
        with self._lock:
            self.doc.update(changes)
            self.doc["heartbeat"] = now_utc()
            self._write()

    def keep_beating(self, every: float, stop: threading.Event) -> threading.Thread:
        """Refresh the heartbeat every `every` seconds (also during a long agent run)."""

        def beat() -> None:
            while not stop.wait(every):
                self.update()

        thread = threading.Thread(target=beat, name="heartbeat", daemon=True)
        thread.start()
        return thread

    def child_started(self, pid: int) -> None:
        self.update(child={"pid": pid, "create_time": _create_time(pid)})

    def end(self, reason: str) -> None:
        self.update(
            state="exited",
            exited_at=now_utc(),
            exit_reason=reason,
            child=None,
            phase="exited",
            item=None,
        )

    def _write(self) -> None:
        store.write_json(
            self.home.process_file, {k: v for k, v in self.doc.items() if k != "schema_version"}
        )

    def reap_orphans(self) -> int:
        """Kill the agent tree a previous supervisor (killed -9) left behind. Returns the count."""
        doc = self.read()
        child = (doc or {}).get("child")
        if not child:
            return 0
        pid, ctime = child.get("pid"), child.get("create_time")
        if not is_alive(pid, ctime):
            return 0
        log.warning("killing agent process %s left running by a previous supervisor", pid)
        shell.kill_tree(int(pid), grace_s=2.0)
        with contextlib.suppress(psutil.Error):
            psutil.Process(pid).wait(timeout=5)
        time.sleep(0)
        return 1
