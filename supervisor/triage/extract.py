"""Extraction: the failures in a CI log, streamed line by line in bounded memory.

`extract(source)` reads a path or a binary file object of any size (a 1 GB job log peaks at a
few tens of MB) and returns one `Failure` per failing test, package, build or infrastructure
incident, with its kind, signature, excerpt and line. It reads GitHub Actions raw logs, `go test
-v` and plain output, pd's `pd-ut` runner, test2json, gotestsum, JUnit XML, gocheck and pytest
reports, and logs damaged by pasting (see `clean`). Invalid UTF-8, NUL bytes, CRLF, binary junk
and a truncated last line are read as well as they can be; nothing in the input makes it raise.

The work is split: `scan` streams the bytes and hands over the lines that matter, the `Handler`
here recognises failure lines and evidence blocks (`blocks`, `formats`), `recorder` records them
(`records`) and looks back for context, and `resolve` puts them together into failures once the
log has been read.
"""

from __future__ import annotations

import os
import re
from typing import BinaryIO

from supervisor.triage import formats
from supervisor.triage.blocks import (
    BUILD_HEADER,
    COMPILE,
    COMPILE_PHRASES,
    Build,
    Leak,
    Panic,
    Race,
    Testify,
)
from supervisor.triage.clean import clean_line, indent_of, test_of_function
from supervisor.triage.formats import GOCHECK_HEADER, Gocheck
from supervisor.triage.infra import standalone
from supervisor.triage.model import Failure
from supervisor.triage.recorder import BAZEL_OUTPUT, MESSAGE, RUN, Recorder, Scope
from supervisor.triage.records import Evidence, Segment
from supervisor.triage.resolve import RACE_SUMMARY, resolve
from supervisor.triage.scan import Scanner

MAX_CANDIDATES = 20
PYTEST_BUDGET = 100_000  # lines of a FAILURES report read at most

GO_FAIL = re.compile(r"^(\s*)--- FAIL: (\S+)(?: \(([\d.]+\w*)\))?")
GOTESTSUM_FAIL = re.compile(r"^=== FAIL: (\S+) (\S*) ?\(")
PDUT_FAIL = re.compile(r"^\[FAIL\]\s+(\S+)\s+(\S+)")
PDUT_SCOPE_END = re.compile(r"^(?!err=)")
PKG_FAIL = re.compile(
    r"^FAIL\s+([\w.\-~/]+[\w\-~])(?:\s+(\[build failed\]|\[setup failed\]|\(cached\)|[\d.]+s))?\s*$"
)
PKG_OK = re.compile(r"^ok\s+([\w.\-~/]+)\s")
BAZEL_RESULT = re.compile(r"^(//\S+)\s+(?:FAILED|TIMEOUT)\b")
GROUP_FAIL = re.compile(r"^FAIL ([\w.\-~/]+)\.(Test\S*) \(")
TEST_MESSAGE = re.compile(r"^\s*(\S+_test\.go):(\d+): (.+)$")
BARE_TEST = re.compile(r"^(Test[A-Z0-9_]\w*(?:/\S+)?)$")
GOTESTSUM_SCOPE_END = re.compile(r"^(?:=== FAIL:|DONE \d|=== (?:Skipped|Errors|Failed)\b)")


class Handler(Recorder):
    """Recognises failure lines and blocks in the lines the scanner hands over."""

    def __init__(self) -> None:
        super().__init__()
        self.scanner = Scanner(self)
        self.pytest = 0  # lines still read in pytest's FAILURES report (0: not in one)
        self.junit_case: tuple[str, str] = ("", "")
        self.junit_suite = ""
        self.last_test = ""  # the last test named by === RUN or a bare name line

    # -- the scanner's side ------------------------------------------------------------------------

    def busy(self) -> bool:
        return self.block is not None or bool(self.scopes) or self.pytest > 0

    def line(self, raw: bytes, lineno: int, pos: int) -> None:
        self.pos, self.lineno = pos, lineno
        text, marker = clean_line(raw.decode("utf-8", "replace"))
        if text[:1] == "{":
            event = formats.json_event(text)
            if event is not None:
                self.json(*event)
                return
        self.ctx = None
        self.text(text)
        if marker == "error" or text.startswith("Error: "):
            self.step_failed(text)

    def json(self, action: str, package: str, test: str, output: str) -> None:
        if self.block is not None and self.ctx is not None and self.ctx[0] != test:
            self.close_block()
        self.ctx = (test, package)
        if action == "fail":
            if test:
                self.marker(test, package, f"--- FAIL: {test}", "json")
            else:
                self.package_result(package, True, "")
        elif action == "output":
            for part in output.rstrip("\n").split("\n"):
                self.text(clean_line(part)[0])

    # -- lines -------------------------------------------------------------------------------------

    def text(self, line: str) -> None:
        if self.scopes and self.scopes[-1].xml:
            line = formats.xml_text(line)
        if self.block is not None:
            if self.block.feed(line):
                return
            self.close_block()
        if self.scopes:
            self.scope_step(line)
        self.dispatch(line)

    def scope_step(self, line: str) -> None:
        s = line.strip()
        while self.scopes:
            sc = self.scopes[-1]
            sc.budget -= 1
            if sc.budget < 0:
                self.scopes.pop()
                continue
            if sc.until is not None:
                if not sc.until.search(s):
                    return
            elif not s or indent_of(line) > sc.indent:
                return
            self.scopes.pop()

    def dispatch(self, line: str) -> None:
        s = line.strip()
        if not s:
            return
        if "FAIL" in s and self.fail_line(line, s):
            return
        if self.start_block(line, s):
            return
        if s[0] == "<" and self.junit(s):
            return
        if self.scopes and self.scopes[-1].xml and "</" in s:
            return
        if (self.pytest > 0 or s[0] == "=") and self.pytest_line(line, s):
            return
        if s[0] == "/" and BAZEL_RESULT.match(s):
            self.marker("", s.split()[0], s, "bazel")
            return
        if self.other(line, s):
            return
        why = standalone(s)
        if why:
            self.infra_line(s, why)
        if "exit code" in s or s.startswith("make"):
            self.step_failed(s)

    def fail_line(self, line: str, s: str) -> bool:
        m = GO_FAIL.match(line)
        if m is not None:
            name = m.group(2)
            self.running.pop(name, None)
            idx = self.marker(name, "", s, "gotest")
            self.scopes.append(Scope(idx, len(m.group(1))))
            if "/" not in name and name not in self.vmsgs and len(self.vmsgs) < 1000:
                self.walk_back(name)
            return True
        m = GOTESTSUM_FAIL.match(s)
        if m is not None:
            self.new_segment(Segment(m.group(1), m.group(2), True, self.lineno))
            idx = self.marker(m.group(2), m.group(1), s, "gotestsum")
            self.scopes.append(Scope(idx, -1, GOTESTSUM_SCOPE_END, 400))
            return True
        m = PDUT_FAIL.match(s)
        if m is not None:
            self.new_segment(Segment(m.group(1), m.group(2), True, self.lineno))
            idx = self.marker(m.group(2), m.group(1), s, "pdut")
            self.scopes.append(Scope(idx, -1, PDUT_SCOPE_END, 2))
            return True
        m = PKG_FAIL.match(s)
        if m is not None and ".go:" not in s:
            self.package_result(m.group(1), True, m.group(2) or "")
            return True
        m = GOCHECK_HEADER.match(s)
        if m is not None and m.group(1) in ("FAIL", "PANIC") and m.group(2):
            idx = self.marker(m.group(3), "", s, "gocheck")
            self.open_block(Gocheck(line, self.lineno, m.group(3), [], m.group(1) == "PANIC"), idx)
            return True
        m = formats.PYTEST_FAILED.match(s)
        if m is not None:
            idx = self.marker(m.group(2) or "", m.group(1), s, "pytest")
            if m.group(3):
                self.markers[idx].messages.append(m.group(3))
            return True
        m = GROUP_FAIL.match(s)
        if m is not None:
            self.marker(m.group(2), m.group(1), s, "gotestsum")
            return True
        m = BAZEL_RESULT.match(s)
        if m is not None:
            self.marker("", m.group(1), s, "bazel")
            return True
        return False

    def start_block(self, line: str, s: str) -> bool:
        if "Error Trace" in s and s.startswith("Error Trace"):
            prev = self.prev_lines(1)
            header = prev if prev and MESSAGE.match(prev[-1][1]) else []
            self.open_block(Testify(line, self.lineno, header))
        elif s.startswith("panic: ") or s.startswith("fatal error: "):
            message = s[len("panic: ") :] if s.startswith("panic: ") else s
            self.open_block(Panic(line, self.lineno, message, False))
        elif "test panicked: " in s:
            self.open_block(Panic(line, self.lineno, s.split("test panicked: ", 1)[1], True))
        elif s.startswith("WARNING: DATA RACE"):
            self.open_block(Race(line, self.lineno))
        elif "found unexpected goroutines" in s:
            self.open_block(Leak(line, self.lineno))
        elif "race detected during execution of test" in s:
            if self.scopes:
                self.add_message(line)
            ev = Evidence("race", self.lineno, [line], RACE_SUMMARY)
            self.add_evidence(ev, self.scope_marker(), self.context())
        else:
            return False
        return True

    def other(self, line: str, s: str) -> bool:
        """Lines that are not failures by themselves but shape what is around them."""
        if ("c.Assert(" in s or "c.Check(" in s) and self.block is None:
            prev = self.prev_lines(1)
            header = prev if prev and prev[-1][1].strip().endswith(":") else []
            self.open_block(Gocheck(line, self.lineno, "", header, False))
            return True
        if line[:1] == "#":
            m = BUILD_HEADER.match(line)
            if m is not None:
                self.open_block(Build(line, self.lineno, m.group(1)))
                return True
        cm = COMPILE.match(line)
        if cm is not None and cm.group(3) and COMPILE_PHRASES.search(cm.group(4)):
            self.open_block(Build(line, self.lineno))
            return True
        m = MESSAGE.match(line)
        if m is not None:
            if self.scopes:
                self.add_message(line)
            elif len(self.candidates) < MAX_CANDIDATES and TEST_MESSAGE.match(line):
                self.candidates.append((self.lineno, s, self.last_test))
            return True
        if self.scopes and self.scopes[-1].xml:
            self.add_message(line)
        if s.startswith("=== ") or s.startswith("--- "):
            m = RUN.match(s)
            if m is not None:
                self.last_test = m.group(2)
                if m.group(1) == "RUN" and len(self.running) < 1000:
                    self.running.setdefault(m.group(2), self.lineno)
            elif s.startswith(("--- PASS", "--- SKIP")):
                self.seen_pass = True
                self.running.pop(s.split(" ")[2] if s.count(" ") >= 2 else "", None)
            return True
        m = PKG_OK.match(s)
        if m is not None:
            self.package_result(m.group(1), False, "")
            self.seen_pass = True
            return True
        m = BAZEL_OUTPUT.search(s)
        if m is not None:
            self.new_segment(Segment(m.group(1), "", False, self.lineno))
            return True
        m = BARE_TEST.match(s)
        if m is not None:
            self.last_test = m.group(1)
            return True
        if s.startswith("=========="):
            self.race_separator = True
        elif "Test" in s and s.endswith(")") and len(self.frame_candidates) < MAX_CANDIDATES:
            fn = s.rsplit("(", 1)[0]
            t = test_of_function(fn) if fn.count("(") <= 1 else None
            if t is not None:
                self.frame_candidates.append((self.lineno, s, t[0], t[2]))
        return False

    def junit(self, s: str) -> bool:
        suite = formats.testsuite(s)
        if suite is not None:
            self.junit_suite = suite
        case = formats.testcase(s)
        if case is not None:
            self.junit_case = (case[0], case[1] or self.junit_suite)
        m = formats.FAILURE_TAG.search(s)
        if m is None:
            return case is not None or suite is not None
        name, pkg = self.junit_case
        if case is None:  # the <testcase> line may not have been read (a big file)
            back = self.scanner.last_line_with((b"<testcase",), self.pos, 64 << 10)
            found = formats.testcase(self.unwrap(back)) if back else None
            if found is not None:
                name, pkg = found[0], found[1] or self.junit_suite
        idx = self.marker(name, pkg, s, "junit")
        message = formats.attrs(m.group(2)).get("message", "")
        if message and message != "Failed":
            self.markers[idx].messages.append(message[:400])
        if m.group(3) == "/":
            return True
        tail = s[m.end() :]
        end = formats.FAILURE_END.search(tail)
        if end is None:
            self.scopes.append(Scope(idx, -1, formats.FAILURE_END, 3000, xml=True))
        first = formats.xml_text(tail[: end.start()] if end is not None else tail)
        if not first.strip():
            return True
        if end is None:
            self.dispatch(first)  # the failure's text starts on the tag's line
        else:
            self.markers[idx].messages.append(first[:400])
        return True

    def pytest_line(self, line: str, s: str) -> bool:
        m = formats.PYTEST_RULE.match(s)
        if m is not None:
            title = m.group(1)
            if title in ("FAILURES", "ERRORS"):
                self.pytest = PYTEST_BUDGET
                return True
            if self.pytest > 0:
                self.pytest = 0
                return True
            return False
        if self.pytest <= 0:
            return False
        self.pytest -= 1
        m = formats.PYTEST_SECTION.match(s)
        if m is not None:
            test = formats.pytest_name(m.group(1))
            idx = self.marker(test, "", s, "pytest")
            self.open_block(formats.PytestSection(line, self.lineno, test), idx)
        return True


def extract(source: str | os.PathLike[str] | BinaryIO) -> list[Failure]:
    """The failures in a log (a path or a binary file object), in the order they appear."""
    handler = Handler()
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as f:
            handler.scanner.run(f)
    else:
        handler.scanner.run(source)
    handler.close_block()
    return resolve(handler)


__all__ = ["extract"]
