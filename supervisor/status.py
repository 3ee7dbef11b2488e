"""`supervisor status`: is it running, what is it doing, how many items in each state."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from supervisor import app, cursors, hooks, store
from supervisor.home import Home
from supervisor.items import STATES, sum_runs, usage_words
from supervisor.process import ProcessState


def collect(home: Home) -> dict[str, Any]:
    proc = ProcessState(home)
    running = proc.running()
    last = proc.read() or {}
    items = app.item_store(home).all() if home.items_dir.exists() else []
    counts = Counter(i.state for i in items)
    night = str((running.started_at if running else last.get("started_at")) or "")
    return {
        "home": str(home.root),
        "running": running is not None,
        "pid": running.pid if running else None,
        "phase": running.phase if running else None,
        "item": running.item if running else None,
        "started_at": running.started_at if running else last.get("started_at"),
        "heartbeat": running.heartbeat if running else None,
        "waiting": running.doc.get("waiting") if running else None,
        "next_chain_at": running.doc.get("next_chain_at") if running else None,
        "next_scan_at": running.doc.get("next_scan_at") if running else None,
        "last_exit": None
        if running
        else {"at": last.get("exited_at"), "reason": last.get("exit_reason")},
        "stop_requested": home.stop_file.exists(),
        "counts": {s: counts[s] for s in STATES if counts[s]},
        "total": len(items),
        "last_scan": cursors.read(home).get("scan"),
        "corrupt_files": [str(p.relative_to(home.root)) for p in store.corrupt_files(home.state)],
        "hook_processes": hooks.tracked(home),
        "main": _main(home),
        "needs_person": [
            {"item": i.id, "why": i.needs_person or f"failed: {i.history[-1]['reason']}"}
            for i in items
            if i.needs_person or i.state == "failed"
        ],
        # The night: the agent runs since the (last) start, whatever item they worked on.
        "agents_since_start": sum_runs(
            r for i in items for r in i.agent_runs() if night and str(r.get("at", "")) >= night
        ),
    }


def _main(home: Home) -> dict[str, Any] | None:
    from supervisor.mainline import main_state

    try:
        doc = main_state(home.state)
    except Exception:  # unreadable: moved aside and reported as a corrupt file
        return None
    return doc or None


def render(s: dict[str, Any]) -> str:
    lines = []
    if s["running"]:
        lines.append(f"running (pid {s['pid']}) since {s['started_at']}")
        lines.append(f"phase: {s['phase']}" + (f", item: {s['item']}" if s["item"] else ""))
        lines.append(f"heartbeat: {s['heartbeat']}")
        if s["waiting"]:
            until = time.strftime("%H:%M:%S", time.localtime(s["waiting"]["until"]))
            lines.append(f"waiting for GitHub: {s['waiting']['reason']}, until {until}")
        if s.get("phase") == "waiting" and s.get("next_chain_at"):
            at = time.strftime("%H:%M:%S", time.localtime(s["next_chain_at"]))
            scan = s.get("next_scan_at")
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(scan)) if scan else "then"
            lines.append(f"next chain at {at}; next CI scan: {when}")
    else:
        last = s["last_exit"] or {}
        lines.append(
            "not running"
            + (f" (last exit {last['at']}: {last['reason']})" if last.get("at") else "")
        )
    if s["stop_requested"]:
        lines.append(
            "state/STOP is present: a running supervisor stops, `start` refuses "
            "(rm state/STOP to clear it)"
        )
    scan = s.get("last_scan")
    if scan:
        lines.append(
            f"last scan: {scan['at']} ({scan['base_branch']} at {scan['base_sha'][:12]}, "
            f"{scan['candidates']} candidates, {scan['new']} new)"
        )
    if s["total"]:
        lines.append(
            f"items: {s['total']} (" + ", ".join(f"{k} {v}" for k, v in s["counts"].items()) + ")"
        )
    else:
        lines.append("items: none yet")
    agents = s.get("agents_since_start") or {"runs": 0}
    if agents["runs"]:
        used = usage_words(agents["tokens"], agents["cost_usd"])
        lines.append(f"agents since the start: {agents['runs']} run(s){used}")
    main = s.get("main") or {}
    if main:
        proven = str(main.get("last_proven_sha") or "")[:12] or "none yet"
        red = f", last red {str(main['last_red_sha'])[:12]}" if main.get("last_red_sha") else ""
        state = f" ({main['result']})" if main.get("result") else ""
        lines.append(f"base branch: last proven {proven}{red}{state}")
    for p in s.get("hook_processes", []):
        lines.append(f"left running by hooks.{p['hook']}: pid {p['pid']} ({p['cmdline']})")
    for n in s.get("needs_person", []):
        lines.append(f"needs a person: {n['item']}: {n['why'][:200]}")
    for f in s["corrupt_files"]:
        lines.append(f"warning: unreadable state file moved aside: {f}")
    return "\n".join(lines)
