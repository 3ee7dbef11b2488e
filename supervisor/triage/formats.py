"""The other shapes a test log comes in: test2json events, JUnit XML, gocheck, pytest's report.

test2json lines are unwrapped into their `Output` text (with the event's Test and Package as the
context of that text); JUnit `<testcase>`/`<failure>` tags name the failing test and package, and
the failure's text is read like any other log text; gocheck (pd before 2022) prints `FAIL:
file.go:NN: Suite.TestX` and `c.Assert(...)` / `... obtained ...` blocks; pytest's `FAILED
path::test - msg` summary lines and `____ test ____` sections name failing tests too.
"""

from __future__ import annotations

import html
import json
import re

from supervisor.triage.blocks import Block
from supervisor.triage.clean import norm, short_frame
from supervisor.triage.infra import in_failure
from supervisor.triage.records import Evidence

# -- test2json -------------------------------------------------------------------------------------


def json_event(text: str) -> tuple[str, str, str, str] | None:
    """(Action, Package, Test, Output) of a test2json line, None for any other line."""
    if not text.startswith("{") or '"Action"' not in text:
        return None
    try:
        d = json.loads(text)
    except ValueError:
        return None
    if not isinstance(d, dict) or not isinstance(d.get("Action"), str):
        return None

    def field(name: str) -> str:
        v = d.get(name)
        return v if isinstance(v, str) else ""

    return field("Action"), field("Package"), field("Test"), field("Output")


# -- JUnit XML -------------------------------------------------------------------------------------

_ATTR = re.compile(r"""([\w:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_TESTCASE = re.compile(r"<testcase\b([^>]*?)(/?)>")
_TESTSUITE = re.compile(r"<testsuite\b([^>]*?)>")
FAILURE_TAG = re.compile(r"<(failure|error)\b([^>]*?)(/?)>")
FAILURE_END = re.compile(r"</(?:failure|error|testcase)>")


def attrs(text: str) -> dict[str, str]:
    return {m.group(1): html.unescape(m.group(2) or m.group(3) or "") for m in _ATTR.finditer(text)}


def testcase(text: str) -> tuple[str, str, bool] | None:
    """(name, classname, self-closing) of the last `<testcase ...>` tag of a line."""
    found = None
    for m in _TESTCASE.finditer(text):
        found = m
    if found is None:
        return None
    a = attrs(found.group(1))
    return a.get("name", ""), a.get("classname", ""), found.group(2) == "/"


def testsuite(text: str) -> str | None:
    m = _TESTSUITE.search(text)
    return attrs(m.group(1)).get("name", "") if m is not None else None


def xml_text(line: str) -> str:
    """A line of a JUnit failure's body as the test printed it."""
    line = line.replace("<![CDATA[", "").replace("]]>", "")
    return html.unescape(line) if "&" in line else line


# -- gocheck ---------------------------------------------------------------------------------------

GOCHECK_HEADER = re.compile(
    r"^(FAIL|PANIC|PASS|MISS|SKIP|OOPS|OK|START): (?:(\S+\.go):\d+: )?(\S+)"
)
_GOCHECK_LOC = re.compile(r"^\s*(\S+\.go:\d+):\s*$")


class Gocheck(Block):
    """A gocheck failure: `file.go:NN:` / `    c.Assert(...)` / `... obtained ...` lines, after a
    `FAIL: file.go:NN: Suite.TestX` header or on their own."""

    limit = 600

    def __init__(
        self, line: str, lineno: int, test: str, header: list[tuple[int, str]], panic: bool
    ) -> None:
        super().__init__(line, lineno, header)
        self.test = test
        self.panic = panic
        self.loc = ""
        self.check = ""
        self.detail = ""
        self.text: list[str] = []
        for h in [*(x for _, x in header), line]:
            self.see(h)

    def see(self, line: str) -> None:
        s = line.strip()
        m = _GOCHECK_LOC.match(line)
        if m is not None and not self.check:
            self.loc = short_frame(m.group(1))
        elif ("c.Assert(" in s or "c.Check(" in s) and not self.check:
            self.check = s
        elif s.startswith("... ") and not self.detail:
            if not s.startswith(("... obtained", "... expected")):
                self.detail = s
            if s.startswith("... Panic"):
                self.panic = True
        if len(self.text) < 20:
            self.text.append(s)

    def accept(self, line: str, s: str, ind: int) -> bool:
        if s.startswith("-------") or GOCHECK_HEADER.match(s):
            return False
        if s.startswith(("--- FAIL", "--- PASS", "FAIL\t", "=== RUN", "ok ", "OOPS")):
            return False
        self.see(line)
        return True

    def finish(self) -> Evidence | None:
        if not (self.check or self.detail or self.test):
            return None
        sig = [f"{self.loc}: {norm(self.check)}" if self.loc else norm(self.check)]
        if self.detail:
            sig.append(norm(self.detail))
        infra = in_failure("\n".join(self.text))
        kind = "infra" if infra else ("panic" if self.panic else "assertion")
        tests = [self.test] if self.test else []
        return self.evidence(kind, "\n".join(x for x in sig if x), tests=tests, infra=infra)


# -- pytest ----------------------------------------------------------------------------------------

PYTEST_FAILED = re.compile(r"^(?:FAILED|ERROR) (\S+?\.py)(?:::(\S+?))?(?: - (.*))?\s*$")
PYTEST_SECTION = re.compile(r"^_{3,} (\S.*?) _{3,}$")
PYTEST_RULE = re.compile(r"^={3,} ?(.*?) ?={3,}$")
_PYTEST_LOC = re.compile(r"^(\S+\.py):(\d+): (\w[\w.]*)")


def pytest_name(section: str) -> str:
    """`TestClass.test_x[p]` (a section header) -> `TestClass::test_x[p]` (the node id form)."""
    head, sep, param = section.partition("[")
    return head.replace(".", "::") + sep + param


class PytestSection(Block):
    """One `____ test ____` section of pytest's FAILURES report."""

    limit = 2000

    def __init__(self, line: str, lineno: int, test: str) -> None:
        super().__init__(line, lineno)
        self.test = test
        self.errors: list[str] = []
        self.loc = ""

    def accept(self, line: str, s: str, ind: int) -> bool:
        if PYTEST_SECTION.match(s) or PYTEST_RULE.match(s):
            return False
        if s.startswith("E ") and len(self.errors) < 5:
            self.errors.append(s[1:].strip())
        m = _PYTEST_LOC.match(s)
        if m is not None and not self.loc:
            self.loc = f"{m.group(1).rsplit('/', 1)[-1]}:{m.group(2)}"
        return True

    def finish(self) -> Evidence:
        text = " ".join(self.errors)
        kind = "assertion" if self.errors else "fail"
        if "Timeout" in text or "timed out" in text:
            kind = "timeout"
        sig = [norm(self.errors[0])] if self.errors else []
        if self.loc:
            sig.append(f"at {self.loc}")
        return self.evidence(kind, "\n".join(sig), tests=[self.test])
