"""What the line handler records while it streams a log, before failures are put together.

A `Marker` is a line that says a test (or a package) failed: `--- FAIL: X`, pd-ut's `[FAIL]`,
gotestsum's `=== FAIL:`, a JUnit `<failure>`, gocheck's `FAIL:`, pytest's `FAILED`, a package's
`FAIL <pkg>`. `Evidence` is a block that shows why something failed: a testify block, a race
report, a panic or timeout, leaked goroutines, a compile error, an infrastructure line. A
`Segment` is the stretch of log of one package or one test process (it ends at `FAIL <pkg>` or
`ok <pkg>`, or starts at pd-ut's `[FAIL] <pkg> <Test>`): what is in it belongs to its package.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_EXCERPT_LINES = 60
MAX_EXCERPT_CHARS = 4000
MAX_MESSAGES = 12


@dataclass
class Marker:
    test: str  # "" for a package-level failure
    package: str  # as the marker line gives it, else ""
    line: int
    text: str  # the marker line, cleaned
    segment: int
    source: str  # gotest | pdut | gotestsum | json | junit | gocheck | pytest | package
    messages: list[str] = field(default_factory=list)  # its own output (t.Error lines, ...)
    message_line: int = 0
    kind_hint: str = ""  # "build" for `[build failed]`, ...


@dataclass
class Evidence:
    kind: str  # one of model.KINDS
    line: int
    lines: list[str]  # excerpt (bounded)
    signature: str
    tests: list[str] = field(default_factory=list)  # tests the block names itself
    frame_tests: list[tuple[str, str]] = field(default_factory=list)  # (test, suite type)
    package: str = ""  # a package the block shows (import path of a test frame, trace folder)
    explicit_package: str = ""  # the package its line came with (test2json, JUnit)
    package_level: bool = False  # it fails the package, not a test (goleak in TestMain, build)
    ctx_test: str = ""  # the test whose output it is in (test2json's Test, === RUN/NAME/CONT)
    strong_ctx: bool = False  # ctx_test is known for sure (test2json), not guessed
    marker: int = -1  # index of the marker whose output holds it
    segment: int = 0
    infra: str = ""  # why it is infrastructure trouble, if it is


@dataclass
class Segment:
    package: str = ""
    top_test: str = ""  # the test process pd-ut reported failing ([FAIL] <pkg> <Test>)
    failed: bool = False
    line: int = 0
    start: int = 0  # input offset where it starts


def bounded(lines: list[str], line: str) -> None:
    """Append to an excerpt unless it is full (a last "..." line marks the cut)."""
    if len(lines) < MAX_EXCERPT_LINES:
        lines.append(line[:400])
    elif len(lines) == MAX_EXCERPT_LINES:
        lines.append("...")
