"""Putting recorded markers and evidence together into failures, once the log has been read.

Each evidence block goes to the test it names itself (testify's `Test:`, a timeout's `running
tests:`), else to the marker whose output holds it, else to the test test2json says printed it,
else to a failing test of its stretch of log found by its stack frames, by the `=== RUN` line
before it or by position (a panic follows its `--- FAIL` lines, a race report comes before
them), else to its package. A failing parent test with no evidence of its own is dropped when a
subtest of it failed (the deepest failing subtest is the failure), and so is gocheck's runner
test when gocheck named its failing tests. A package's `FAIL` with nothing else to show becomes a
package-level failure unless a test of that package failed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from supervisor.triage.blocks import deepest
from supervisor.triage.clean import norm
from supervisor.triage.infra import in_failure
from supervisor.triage.model import Failure
from supervisor.triage.records import MAX_EXCERPT_CHARS, Evidence, Marker, Segment

MAX_FAILURES = 1000
KIND_ORDER = ("infra", "timeout", "panic", "race", "leak", "build")
RACE_SUMMARY = "race detected during execution of test"
WAIT_TEXT = (
    "Condition never satisfied",
    "condition failed to evaluate",
    "waiting for the condition",
)
ERRORISH = re.compile(
    r"expect|actual|unexpected|\bnot\b|fail|error|timeout|timed out|mismatch|should|never"
    r"|too long|\bgot\b|\bwant|wrong|missing|invalid|cannot|unable|did not|differ",
    re.IGNORECASE,
)


class Recorded:
    """What the handler recorded (the handler derives from it)."""

    def __init__(self) -> None:
        self.markers: list[Marker] = []
        self.evidence: list[Evidence] = []
        self.segments: list[Segment] = [Segment()]
        self.vmsgs: dict[str, list[str]] = {}  # test -> its messages printed before --- FAIL
        self.infra: Evidence | None = None  # the log's own infrastructure trouble
        self.exit: tuple[int, str, str] | None = None  # a failed step: line, text, exit code
        self.candidates: list[tuple[int, str, str]] = []  # test messages outside any failure
        self.frame_candidates: list[tuple[int, str, str, str]] = []  # test functions in stacks
        self.build_segments: set[int] = set()
        self.seen_pass = False
        self.race_separator = False
        self.running: dict[str, int] = {}  # tests with a `=== RUN` line and no result yet


@dataclass
class Entry:
    test: str
    package: str
    line: int
    markers: list[Marker] = field(default_factory=list)
    evidence: list[Evidence] = field(default_factory=list)
    segments: set[int] = field(default_factory=set)


def compatible(a: str, b: str) -> bool:
    return not a or not b or a == b or a.endswith("/" + b) or b.endswith("/" + a)


def better(a: str, b: str) -> str:
    """Of two compatible package names the fuller one (an import path over a short path)."""
    return b if len(b) > len(a) else a


def related(a: str, b: str) -> bool:
    return a.split("/")[0] == b.split("/")[0]


class Resolver:
    def __init__(self, rec: Recorded) -> None:
        self.rec = rec
        self.entries: dict[str, list[Entry]] = {}
        self.top_pkg: dict[str, str] = {}
        self.seg_markers: dict[int, list[Marker]] = {}
        self.package_level: list[tuple[str, int, list[Evidence], list[Marker]]] = []
        for m in rec.markers:
            if m.test and m.package:
                self.top_pkg.setdefault(m.test.split("/")[0], m.package)
            if m.test:
                self.seg_markers.setdefault(m.segment, []).append(m)

    def segment_package(self, seg: int) -> str:
        return self.rec.segments[seg].package if 0 <= seg < len(self.rec.segments) else ""

    def entry(self, test: str, package: str, seg: int, line: int) -> Entry:
        pkg = package or self.segment_package(seg) or self.top_pkg.get(test.split("/")[0], "")
        for e in self.entries.get(test, []):
            if compatible(e.package, pkg):
                e.package = better(e.package, pkg)
                e.line = min(e.line, line)
                e.segments.add(seg)
                return e
        e = Entry(test, pkg, line, segments={seg})
        self.entries.setdefault(test, []).append(e)
        return e

    def targets(self, ev: Evidence) -> list[str]:
        """The tests an evidence block belongs to ([] for its package)."""
        if ev.tests:
            return deepest(ev.tests)
        if ev.marker >= 0:
            t = self.rec.markers[ev.marker].test
            return [t] if t else []
        if ev.strong_ctx:
            return [ev.ctx_test]
        if ev.package_level:
            return []
        group = self.seg_markers.get(ev.segment, [])
        names = [m.test for m in group]
        for name, _suite in ev.frame_tests:
            hits = [n for n in names if n == name or n.endswith("/" + name)]
            if hits:
                return [max(hits, key=lambda n: n.count("/"))]
        before = [m for m in group if m.line <= ev.line]
        after = [m for m in group if m.line > ev.line]
        if before and ev.kind in ("panic", "timeout") and ev.line - before[-1].line <= 40:
            return [before[-1].test]  # Go prints the panicking test's --- FAIL lines first
        if ev.ctx_test and (not names or any(related(ev.ctx_test, n) for n in names)):
            return [ev.ctx_test]
        if after:
            cur = after[0].test
            for m in after[1:]:
                if not m.test.startswith(cur + "/"):
                    break
                cur = m.test
            return [cur]
        if before:
            return [before[-1].test]
        if ev.frame_tests:
            return [ev.frame_tests[0][0]]
        top = self.rec.segments[ev.segment].top_test if ev.segment < len(self.rec.segments) else ""
        return [top] if top else []

    def run(self) -> list[Failure]:
        rec = self.rec
        for m in rec.markers:
            if m.test:
                self.entry(m.test, m.package, m.segment, m.line).markers.append(m)
        for ev in rec.evidence:
            tests = [t for t in self.targets(ev) if t]
            pkg = ev.explicit_package
            for t in tests:
                e = self.entry(
                    t, pkg or self.segment_package(ev.segment) or "", ev.segment, ev.line
                )
                if not e.package and ev.package:
                    e.package = ev.package
                e.evidence.append(ev)
            if not tests:
                own = ev.package if ev.package_level else ""  # a build's `# pkg` header
                self.add_package_level(
                    pkg or own or self.segment_package(ev.segment) or ev.package, [ev]
                )
        entries = self.prune([e for es in self.entries.values() for e in es])
        for m in rec.markers:
            if not m.test:
                pkg = m.package
                seg_pkg = self.segment_package(m.segment)
                pkg = better(pkg, seg_pkg) if compatible(pkg, seg_pkg) else pkg
                self.add_package_level(pkg, [], [m])
        failures = [self.failure(e) for e in entries]
        packages = [e.package for e in entries]
        for i, seg in enumerate(rec.segments):
            if not seg.failed or any(i in e.segments for e in entries):
                continue
            if not any(compatible(p, seg.package) and p for p in packages):
                self.add_package_level(seg.package, [], [], seg.line)
        for pkg, line, evs, markers in self.package_level:
            if evs or not any(compatible(p, pkg) and p for p in packages):
                failures.append(self.package_failure(pkg, line, evs, markers))
        if rec.infra is not None:
            ev = rec.infra
            failures.append(Failure("", "", "infra", ev.signature, excerpt(ev.lines), ev.line))
        if not failures:
            failures = self.fallback()
        failures.sort(key=lambda f: f.line)
        return failures[:MAX_FAILURES]

    def add_package_level(
        self, pkg: str, evs: list[Evidence], markers: list[Marker] | None = None, line: int = 0
    ) -> None:
        markers = markers or []
        lines = [x.line for x in evs] + [m.line for m in markers] + ([line] if line else [])
        at = min(lines, default=0)
        for i, (p, ln, es, ms) in enumerate(self.package_level):
            if p == pkg or (p and pkg and compatible(p, pkg)):
                self.package_level[i] = (better(p, pkg), min(ln, at), es + evs, ms + markers)
                return
        self.package_level.append((pkg, at, list(evs), markers))

    def prune(self, entries: list[Entry]) -> list[Entry]:
        names = {e.test for e in entries}
        gocheck = {
            s for e in entries for m in e.markers if m.source == "gocheck" for s in e.segments
        }
        leaky = {ev.segment for ev in self.rec.evidence if ev.kind == "leak" and ev.package_level}
        out = []
        for e in entries:
            if not e.evidence:
                if any(n.startswith(e.test + "/") for n in names):
                    continue  # a parent whose subtest failed: the subtest is the failure
                if e.segments & gocheck and all(m.source == "gotest" for m in e.markers):
                    continue  # gocheck's runner test (`--- FAIL: Test`)
                if e.segments & leaky and all(m.source == "pdut" for m in e.markers):
                    continue  # pd-ut's process that failed on goleak: the package's failure
            out.append(e)
        return out

    def failure(self, e: Entry) -> Failure:
        evs = sorted(e.evidence, key=lambda x: x.line)
        messages: list[str] = []
        pieces: list[tuple[int, list[str]]] = []
        seen: list[list[str]] = []
        for m in e.markers:
            own = m.messages or self.rec.vmsgs.get(m.test, [])
            if own in seen:
                own = []  # the same lines, seen through another marker of the test
            seen.append(own)
            messages += own
            # with evidence blocks the messages would repeat them (a testify block's lines)
            pieces.append((m.line, [m.text] if evs else [m.text, *own]))
        if not messages:
            messages = self.rec.vmsgs.get(e.test, [])
            if messages and not evs:
                pieces.append((e.line, messages))
        pieces += [(ev.line, ev.lines) for ev in evs]
        primary = pick(evs)
        if primary is not None:
            kind, sig, line = primary.kind, primary.signature, primary.line
        else:
            kind, sig = from_messages(messages)
            line = min((m.line for m in e.markers), default=e.line)
        return Failure(e.test, e.package, kind, sig, excerpt_of(pieces), line)

    def package_failure(
        self, pkg: str, line: int, evs: list[Evidence], markers: list[Marker]
    ) -> Failure:
        primary = pick(sorted(evs, key=lambda x: x.line))
        messages = [x for m in markers for x in m.messages]
        pieces = [(m.line, [m.text, *m.messages]) for m in markers] + [
            (x.line, x.lines) for x in evs
        ]
        if primary is not None:
            kind, sig, line = primary.kind, primary.signature, primary.line
        elif messages:
            kind, sig = from_messages(messages)
        else:
            kind, sig = "fail", "FAIL"
            pieces.append((line, [f"FAIL\t{pkg}"]))
        return Failure("", pkg, kind, sig, excerpt_of(pieces), line)

    def fallback(self) -> list[Failure]:
        """A log with no failure line or block: a pasted fragment of a test's output (a stack
        naming the test, a t.Error line, a test still running where the log ends), or a job
        step that failed for a reason no parser knows."""
        rec = self.rec
        if rec.frame_candidates:
            line, text, test, pkg = rec.frame_candidates[0]
            kind = "race" if rec.race_separator else "fail"
            return [Failure(test, pkg, kind, f"{kind}: at {norm(text)}", text, line)]
        if not rec.seen_pass:
            for line, text, test in rec.candidates:
                body = text.split(": ", 1)[-1]
                if errorish(body):
                    kind, sig = from_messages([text])
                    return [Failure(test, "", kind, sig, text, line)]
        unfinished = deepest(list(rec.running))
        if 0 < len(unfinished) <= 2:  # the log ends while they run: they are what failed
            return [
                Failure(t, "", "fail", "still running when the log ended", f"=== RUN   {t}", ln)
                for t in unfinished
                for ln in [rec.running[t]]
            ]
        if rec.exit is not None:
            line, text, code = rec.exit
            sig = f"exit code {code}" if code else norm(text)
            return [Failure("", "", "fail", sig, text, line)]
        return []


def errorish(text: str) -> bool:
    """Whether a test's message reads like a failure rather than a progress note."""
    return ERRORISH.search(text) is not None


def pick(evs: list[Evidence]) -> Evidence | None:
    """The evidence that says most about a failure: infrastructure trouble, a timeout, a panic,
    a race report, a leak, a build error, else the first block (a bare `race detected` line
    last: the report it sums up, or the assertion that failed too, says more)."""
    summary = [ev for ev in evs if ev.signature == RACE_SUMMARY]
    blocks = [ev for ev in evs if ev.signature != RACE_SUMMARY]
    for kind in KIND_ORDER:
        for ev in blocks:
            if ev.kind == kind:
                return ev
    rest = blocks or summary
    return rest[0] if rest else None


def from_messages(messages: list[str]) -> tuple[str, str]:
    """Kind and signature of a failure known only by its t.Error/t.Fatal lines."""
    if not messages:
        return "fail", "FAIL"
    text = "\n".join(messages)
    kind = "assertion"
    if RACE_SUMMARY in text:
        kind = "race"
    elif "test panicked" in text:
        kind = "panic"
    elif "found unexpected goroutines" in text:
        kind = "leak"
    elif any(w in text for w in WAIT_TEXT):
        kind = "wait_condition"
    if in_failure(text):
        kind = "infra"
    key = next((m for m in messages if errorish(m.split(": ", 1)[-1])), messages[-1])
    return kind, norm(key)


def excerpt_of(pieces: list[tuple[int, list[str]]]) -> str:
    lines: list[str] = []
    for _, ls in sorted(pieces, key=lambda p: p[0]):
        lines.extend(ls)
    return excerpt(lines)


def excerpt(lines: list[str]) -> str:
    out = "\n".join(lines)
    return out if len(out) <= MAX_EXCERPT_CHARS else out[:MAX_EXCERPT_CHARS] + "\n..."


def resolve(rec: Recorded) -> list[Failure]:
    return Resolver(rec).run()
