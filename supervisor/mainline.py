"""Keep main green: prove every new SHA of the base branch in the gate worktree, and turn a red
one into an item (kind gate) that is fixed like any other and landed only on the SHA it proved.

The state per SHA is state/main.json: the last proven SHA, the last red one, the last checked,
and the gate log of each check. A change the supervisor landed itself was proven on exactly that
tree (fast and slow gate on base + candidate), so its SHA counts as proven without a rerun.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from supervisor import store
from supervisor.errors import StopRequested
from supervisor.gate import run_gate
from supervisor.ids import ItemId, Sha
from supervisor.items import Item, now_utc
from supervisor.steps import StepBase, log


def main_state(home_state: Any) -> dict[str, Any]:
    doc = store.read_json(home_state / "main.json", "main") or {}
    doc.pop("schema_version", None)
    return doc


def signature(output: str) -> str:
    """What identifies a red state across SHAs: the last lines of the failure, with the things
    that change from run to run (times, numbers, hex ids, paths of temp dirs) blanked out."""
    lines = [ln.strip() for ln in output.strip().splitlines() if ln.strip()][-8:]
    text = "\n".join(lines)
    text = re.sub(r"/tmp/\S+", "<tmp>", text)
    text = re.sub(r"\b[0-9a-f]{7,40}\b", "<hex>", text)
    return re.sub(r"\d+(\.\d+)?", "<n>", text)


class MainSteps(StepBase):
    def _main_on(self) -> bool:
        mode = self.cfg.sources.main
        return mode == "on" or (mode == "auto" and self.d.forge.name == "local")

    def mark_proven(self, sha: str, how: str) -> None:
        """Record sha as green (the supervisor just landed it after proving exactly it)."""
        doc = main_state(self.d.home.state)
        doc.update(last_checked_sha=sha, last_proven_sha=sha, at=now_utc(), how=how, result="green")
        store.write_json(self.d.home.state / "main.json", doc)

    def scan_main(self) -> int:
        """Prove the base branch's SHA if it is new; a red one becomes (or joins) a gate item."""
        if not self._main_on() or not (self.cfg.gate.fast or self.cfg.gate.slow):
            return 0
        sha = self.d.workspace.base_sha()
        doc = main_state(self.d.home.state)
        if doc.get("last_checked_sha") == sha:
            return 0
        self._phase("main", None)
        checkout = self.d.workspace.gate_checkout(Sha(sha))
        logfile = self.d.home.runs_dir / "main" / sha[:12] / "gate.log"
        failed = None
        for level, commands in (("fast", self.cfg.gate.fast), ("slow", self.cfg.gate.slow)):
            if not commands:
                continue
            outcome = run_gate(
                level,
                commands,
                checkout,
                logfile,
                self.cfg.gate.timeout,
                self.d.control.stop_event,
            )
            if outcome.stopped:
                raise StopRequested(f"stopped while proving {self.d.workspace.base_branch}")
            if not outcome.ok:
                failed = outcome
                break
        doc.update(last_checked_sha=sha, at=now_utc(), gate_log=str(logfile))
        if failed is None:
            doc.update(last_proven_sha=sha, how="gates passed", result="green")
            store.write_json(self.d.home.state / "main.json", doc)
            log.info("%s is green at %s", self.d.workspace.base_branch, sha[:12])
            return 0
        command = next(
            (str(c["command"]) for c in failed.commands if c.get("exit_code") != 0),
            failed.failed_command or "?",
        )
        doc.update(last_red_sha=sha, result="red", failing=command)
        store.write_json(self.d.home.state / "main.json", doc)
        return self._red_item(sha, command, failed.output_tail)

    def _red_item(self, sha: str, command: str, output: str) -> int:
        digest = hashlib.sha256(f"{command}\n{signature(output)}".encode()).hexdigest()[:12]
        item_id = ItemId(f"gate-{digest}")
        occurrence = {"key": f"main:{sha}", "sha": sha, "time": now_utc()}
        known = self.d.items.get(item_id)
        base = self.d.workspace.base_branch
        log.warning("%s is red at %s: `%s` fails", base, sha[:12], command)
        if known is not None and not known.terminal:
            if not any(o.get("key") == occurrence["key"] for o in known.occurrences):
                known.occurrences.append(occurrence)
                self.d.items.save(known)
            return 0
        if known is not None:  # fixed once, red again the same way: a new item
            item_id = ItemId(f"{item_id}-{sha[:7]}")
            if self.d.items.get(item_id) is not None:
                return 0
        item = Item(
            id=item_id,
            kind="gate",
            title=f"{base} is red: `{command[:80]}` fails",
            body=(
                f"The gate command `{command}` fails on `{base}` at {sha}. Its output ends "
                f"with:\n\n{output[-6000:]}"
            ),
            fingerprint=item_id,
            source={"type": "gate", "command": command, "sha": sha},
            base_sha=sha,
            occurrences=[occurrence],
            seq=len(list(self.d.items.folder.glob("*.json"))) + 1,
        )
        self.d.items.create(item, f"{base} is red at {sha[:12]}")
        return 1

    def gate_gave_up(self, item: Item) -> None:
        """A gate item out of attempts: the gate worktree back at the last proven SHA."""
        proven = main_state(self.d.home.state).get("last_proven_sha")
        if proven:
            self.d.workspace.gate_checkout(Sha(str(proven)))
        item.needs_person = (
            f"{self.d.workspace.base_branch} stays red: {item.counted_attempts()} attempts "
            f"failed; the gate worktree is back at the last proven SHA {str(proven)[:12]}"
        )
        self.d.items.save(item)
