"""From CI logs to findings: extract, fingerprint and classify each log not triaged before.

A log is marked as triaged (state/cursors.json "ci_logs") only after its findings were saved as
items, so a crash in between triages it again; the items dedupe its occurrences by the log's key.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from supervisor import cursors
from supervisor.ci.logs import LogRef
from supervisor.home import Home
from supervisor.triage.classify import Signals, classify_all
from supervisor.triage.extract import extract
from supervisor.triage.fingerprint import fingerprint
from supervisor.triage.model import Failure

SEEN_KEY = "ci_logs"
SEEN_LIMIT = 20_000  # the newest keys kept: enough for months of CI runs


@dataclass
class Finding:
    failure: Failure
    occurrence: dict[str, Any]


def triage_log(ref: LogRef, signals: Signals | None = None) -> list[Failure]:
    """The failures in one log, each fingerprinted and classified (one per fingerprint)."""
    unique: dict[str, Failure] = {}
    for failure in extract(ref.path):
        failure.fingerprint = fingerprint(failure)
        unique.setdefault(failure.fingerprint, failure)
    failures = list(unique.values())
    classify_all(failures, signals)
    return failures


def seen(home: Home) -> set[str]:
    return set(cursors.read(home).get(SEEN_KEY, []))


def collect(
    home: Home, refs: Iterable[LogRef], signals: dict[str, Signals] | None = None
) -> tuple[list[Finding], list[str]]:
    """Findings of the logs not triaged yet, and their keys (to mark_seen once saved)."""
    done = seen(home)
    findings: list[Finding] = []
    keys: list[str] = []
    for ref in refs:
        if ref.key in done:
            continue
        for failure in triage_log(ref, (signals or {}).get(ref.key)):
            findings.append(Finding(failure, ref.occurrence()))
        keys.append(ref.key)
    return findings, keys


def mark_seen(home: Home, keys: list[str]) -> None:
    if not keys:
        return
    current = cursors.read(home).get(SEEN_KEY, [])
    merged = list(dict.fromkeys([*current, *keys]))[-SEEN_LIMIT:]
    cursors.update(home, SEEN_KEY, merged)
