"""Hooks: commands run after a merge (then the health URL polled), when an item fails, and when
the supervisor stops. A hook never stops the supervisor: a failure is logged, recorded in
logs/events.jsonl and notified. A hook that fails HOOK_STORM times within STORM_WINDOW_S is paused
for the rest of that window, so a broken restart cannot loop all night.

Each hook runs through the one subprocess door (shell.run) in a session of its own, with
hooks.timeout; STOP kills one still running. What it leaves running (a service it started in the
background) is found by that session id and tracked by its real pid in state/hooks.json: `status`
reports it; it runs on after a night that ends by itself (--once, idle: cron's way), and is
stopped with the supervisor when the supervisor is stopped (STOP, a signal), so nothing is
orphaned.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import psutil
import requests

from supervisor import shell, store
from supervisor.config import Hooks
from supervisor.errors import StateCorrupt
from supervisor.home import Home
from supervisor.items import EventLog, now_utc

log = logging.getLogger("supervisor.hooks")

HOOK_STORM = 3
STORM_WINDOW_S = 600.0
HEALTH_POLL_S = 0.5


class HookRunner:
    def __init__(
        self,
        home: Home,
        cfg: Hooks,
        events: EventLog,
        notify: Callable[[str, str, str | None], list[str]] | None = None,
        stop_event: threading.Event | None = None,
    ) -> None:
        self.home, self.cfg, self.events, self.notify = home, cfg, events, notify
        self.stop_event = stop_event  # STOP kills a hook that is still running
        self.file = home.state / "hooks.json"

    def _state(self) -> dict[str, Any]:
        return _read(self.file)

    def _save(self, doc: dict[str, Any]) -> None:
        store.write_json(self.file, doc)

    def run(self, event: str, env: Mapping[str, str] | None = None) -> bool:
        """Run the hooks of event (post_merge, on_failure, on_stop); True when all succeeded."""
        commands: list[str] = list(getattr(self.cfg, event))
        if not commands:
            return True
        doc = self._state()
        now = time.time()
        recent = [t for t in doc.get("failures", {}).get(event, []) if now - t < STORM_WINDOW_S]
        if len(recent) >= HOOK_STORM:
            log.warning(
                "hooks.%s is paused: it failed %d times in %d minutes; it runs again at %s",
                event,
                len(recent),
                STORM_WINDOW_S // 60,
                time.strftime("%H:%M", time.localtime(min(recent) + STORM_WINDOW_S)),
            )
            return False
        ok = True
        for command in commands:
            ok = self._one(event, command, env or {}) and ok
            if not ok:
                break
        if ok and event == "post_merge" and self.cfg.health_url:
            ok = self._healthy()
            if not ok:
                self._failed(event, f"{self.cfg.health_url} did not answer 2xx in time")
        return ok

    def _one(self, event: str, command: str, env: Mapping[str, str]) -> bool:
        folder = self.home.logs / "hooks"
        folder.mkdir(parents=True, exist_ok=True)
        out = folder / f"{event}-{time.strftime('%Y%m%dT%H%M%S')}.log"
        pids: list[int] = []
        r = shell.run(
            ["sh", "-c", command],
            cwd=self.home.root,
            env={"SUPERVISOR_HOOK": event, **env},
            timeout=self.cfg.timeout,
            check=False,
            stdout_path=out,
            on_start=pids.append,
            stop_event=self.stop_event if event != "on_stop" else None,
        )
        self._track(event, pids[0] if pids else None)
        if r.ok:
            log.info("hooks.%s: `%s` done in %.1fs (output: %s)", event, command, r.duration_s, out)
            return True
        why = (
            f"still running after {self.cfg.timeout:.0f}s, killed"
            if r.timed_out
            else f"exit {r.returncode}: {(r.stderr or r.stdout).strip()[-300:]}"
        )
        self._failed(event, f"`{command}`: {why}")
        return False

    def _track(self, event: str, sid: int | None) -> None:
        """What the hook left running: its session's processes, by real pid."""
        if sid is None:
            return
        left = []
        for p in psutil.process_iter(["pid", "create_time", "cmdline"]):
            with contextlib.suppress(OSError, psutil.Error):
                if os.getsid(p.pid) == sid and p.status() != psutil.STATUS_ZOMBIE:
                    left.append(
                        {
                            "pid": p.pid,
                            "create_time": p.info["create_time"],
                            "cmdline": " ".join(p.info["cmdline"] or [])[:200],
                            "hook": event,
                            "since": now_utc(),
                        }
                    )
        doc = self._state()
        doc["processes"] = [*alive(doc.get("processes", [])), *left]
        self._save(doc)
        for entry in left:
            log.info("hooks.%s left running: pid %d (%s)", event, entry["pid"], entry["cmdline"])

    def _healthy(self) -> bool:
        deadline = time.monotonic() + self.cfg.timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(requests.RequestException):
                if requests.get(self.cfg.health_url, timeout=2).ok:
                    log.info("hooks: %s is healthy", self.cfg.health_url)
                    return True
            time.sleep(HEALTH_POLL_S)
        return False

    def _failed(self, event: str, why: str) -> None:
        log.warning("hooks.%s failed: %s", event, why)
        doc = self._state()
        doc.setdefault("failures", {}).setdefault(event, []).append(time.time())
        doc["failures"][event] = doc["failures"][event][-HOOK_STORM * 3 :]
        doc.setdefault("last_failure", {})[event] = {"at": now_utc(), "why": why[:500]}
        self._save(doc)
        self.events.append({"event": "hook_failed", "hook": event, "reason": why[:500]})
        if self.notify is not None:
            self.notify(f"supervisor: hooks.{event} failed", why[:500], None)

    def stop_tracked(self) -> list[int]:
        """Stop what hooks left running (the supervisor is stopping); the pids stopped."""
        doc = self._state()
        stopped = []
        for p in alive(doc.get("processes", [])):
            shell.kill_tree(int(p["pid"]), grace_s=2.0)
            stopped.append(int(p["pid"]))
            log.info("stopped pid %d, left running by hooks.%s", p["pid"], p["hook"])
        if doc.get("processes"):
            doc["processes"] = []
            self._save(doc)
        return stopped


def alive(processes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The tracked processes still alive (the same pid and start time: not a reused pid), with
    their command line as it is now (one seen just after a fork had not exec'd yet)."""
    out = []
    for p in processes:
        with contextlib.suppress(psutil.Error):
            proc = psutil.Process(int(p["pid"]))
            if (
                abs(proc.create_time() - float(p["create_time"])) < 0.01
                and proc.status() != psutil.STATUS_ZOMBIE
            ):
                out.append({**p, "cmdline": " ".join(proc.cmdline())[:200] or p["cmdline"]})
    return out


def _read(path: Path) -> dict[str, Any]:
    """state/hooks.json (a corrupt one is moved aside by store and read as empty)."""
    try:
        doc = store.read_json(path, "hooks") or {}
    except StateCorrupt as e:
        log.error("%s", e)
        doc = {}
    doc.pop("schema_version", None)
    return doc


def tracked(home: Home) -> list[dict[str, Any]]:
    """For `status`: the processes hooks left running, alive now."""
    return alive(_read(home.state / "hooks.json").get("processes", []))
