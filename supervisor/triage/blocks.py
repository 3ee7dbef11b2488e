"""Evidence blocks: the multi-line parts of a Go test log that show why something failed.

Each block starts on a line the handler recognised, is fed the following lines one at a time
(`feed` says whether a line still belongs to it) and ends as one `Evidence` with its kind, its
signature (the normalized key lines) and a bounded excerpt. Blocks parse as they go, so a huge
block (a diff of thousands of lines, a long leak list) costs no more memory than a small one.
"""

from __future__ import annotations

import re

from supervisor.triage.clean import (
    frame_file,
    frame_function,
    indent_of,
    norm,
    repo_dir,
    repo_path,
    short_frame,
    test_of_function,
)
from supervisor.triage.infra import in_failure, standalone
from supervisor.triage.records import Evidence, bounded

MAX_FRAME_TESTS = 8


class Block:
    """Lines of one block; subclasses say which lines belong (`accept`) and what they mean."""

    limit = 3000  # lines read at most, however long the block goes on
    max_blank = 2  # consecutive blank lines a block may contain

    def __init__(self, line: str, lineno: int, header: list[tuple[int, str]] | None = None) -> None:
        self.start = header[0][0] if header else lineno
        self.lines: list[str] = []
        for _, h in header or []:
            bounded(self.lines, h)
        bounded(self.lines, line)
        self.count = 0
        self.blanks: list[str] = []
        self.done = False
        self.frame_tests: list[tuple[str, str]] = []
        self.frame_package = ""

    def feed(self, line: str) -> bool:
        """Whether the line belongs to the block (False: the block ended before it)."""
        if self.done:
            return False
        self.count += 1
        if self.count > self.limit:
            return False
        s = line.strip()
        if not s:
            self.blanks.append(line)
            return len(self.blanks) <= self.max_blank
        if not self.accept(line, s, indent_of(line)):
            return False
        for b in self.blanks:
            bounded(self.lines, b)
        self.blanks.clear()
        bounded(self.lines, line)
        return True

    def accept(self, line: str, s: str, ind: int) -> bool:
        raise NotImplementedError

    def finish(self) -> Evidence | None:
        raise NotImplementedError

    def note_frame(self, line: str) -> str | None:
        """Record a test function seen in a stack frame; the frame's function."""
        fn = frame_function(line)
        if fn is None:
            return None
        t = test_of_function(fn)
        if t is not None and len(self.frame_tests) < MAX_FRAME_TESTS:
            if (t[0], t[1]) not in self.frame_tests:
                self.frame_tests.append((t[0], t[1]))
            if not self.frame_package:
                self.frame_package = t[2]
        return fn

    def evidence(
        self,
        kind: str,
        signature: str,
        *,
        tests: list[str] | None = None,
        package: str = "",
        package_level: bool = False,
        infra: str = "",
    ) -> Evidence:
        return Evidence(
            kind,
            self.start,
            self.lines,
            signature,
            tests=tests or [],
            frame_tests=self.frame_tests,
            package=package or self.frame_package,
            package_level=package_level,
            infra=infra,
        )


# -- testify ---------------------------------------------------------------------------------------

_LABEL = re.compile(r"^(\s*)(Error Trace|Error|Test|Messages):(?:\s+(.*?))?\s*$")
# lines that are never a testify value: result lines, log lines, another test message
_STRUCTURAL = re.compile(
    r"^(?:--- |=== |FAIL|PASS|ok |panic: |\[\d{4}[/-]|\{|\S+\.go:\d+:(?:\s|$)|[IWEF]\d{4} )"
)
_TRACE_FRAME = re.compile(r"\S+:\d+$")


def pick_frame(frames: list[str], kind: str) -> str:
    """The trace frame that identifies the failure: the first in a test file, after the wait
    helper's own frame for Eventually-style failures, never a stdlib or module-cache frame."""
    if not frames:
        return ""
    cands = frames[1:] if kind == "wait_condition" and len(frames) > 1 else frames
    usable = [f for f in cands if repo_path(f.rsplit(":", 1)[0])[0] not in ("std", "mod")]
    for f in usable:
        if f.rsplit(":", 1)[0].endswith("_test.go"):
            return f
    return usable[0] if usable else cands[0]


class Testify(Block):
    """`Error Trace:` / `Error:` / `Test:` / `Messages:` (testify's assert and require)."""

    limit = 200_000  # a diff can be long; its `Test:` line comes after it

    def __init__(self, line: str, lineno: int, header: list[tuple[int, str]]) -> None:
        super().__init__(line, lineno, header)
        m = _LABEL.match(line)
        self.indent = len(m.group(1)) if m else indent_of(line)
        self.fields: dict[str, list[str]] = {"Error Trace": []}
        self.cur = "Error Trace"
        if m and m.group(3):
            self.fields[self.cur].append(m.group(3))

    def accept(self, line: str, s: str, ind: int) -> bool:
        m = _LABEL.match(line)
        if m is not None and len(m.group(1)) >= self.indent - 2:
            self.cur = m.group(2)
            values = self.fields.setdefault(self.cur, [])
            if m.group(3) and len(values) < 40:
                values.append(m.group(3))
            return True
        if ind < self.indent or (ind == self.indent and _STRUCTURAL.match(s)):
            return False  # (a paste that lost the indentation keeps its lines at the labels')
        values = self.fields.setdefault(self.cur, [])
        if len(values) < 40:
            values.append(s)
        if self.cur == "Error":
            self.note_frame(s)
        return True

    def finish(self) -> Evidence:
        frames = [f for f in self.fields.get("Error Trace", []) if _TRACE_FRAME.search(f)]
        error = self.fields.get("Error", [])
        err0 = error[0] if error else ""
        kind = "assertion"
        if "Condition never satisfied" in err0 or "Condition satisfied" in err0:
            kind = "wait_condition"
        infra = in_failure("\n".join(error + self.fields.get("Messages", [])))
        if infra:
            kind = "infra"
        frame = pick_frame(frames, kind)
        sig = [f"Error: {norm(err0)}"]
        if err0.rstrip().lower().endswith("error:") and len(error) > 1:
            sig.append(norm(error[1]))
        if frame:
            sig.append(f"at {short_frame(frame)}")
        tests = [t for t in self.fields.get("Test", [])[:1] if t]
        pkg = repo_dir(frame.rsplit(":", 1)[0]) if frame else ""
        return self.evidence(kind, "\n".join(sig), tests=tests, package=pkg, infra=infra)


# -- data race -------------------------------------------------------------------------------------

_ACCESS = re.compile(r"^\s*([A-Z][\w ]*?) at 0x[0-9a-fA-F]+ by (?:goroutine \d+|main goroutine):")


class Race(Block):
    """`WARNING: DATA RACE` ... up to the closing `==================`."""

    limit = 2000

    def __init__(self, line: str, lineno: int) -> None:
        super().__init__(line, lineno)
        self.accesses: list[tuple[str, str]] = []
        self.want_top = ""

    def accept(self, line: str, s: str, ind: int) -> bool:
        if s.startswith("=========="):
            self.done = True
            return True
        if s.startswith(("--- FAIL", "--- PASS", "=== RUN", "panic: ", "FAIL", "WARNING: DATA")):
            return False
        m = _ACCESS.match(line)
        if m is not None:
            self.want_top = m.group(1).lower()
            return True
        fn = self.note_frame(line)
        if fn is not None and self.want_top:
            if len(self.accesses) < 2:
                self.accesses.append((self.want_top, fn))
            self.want_top = ""
        return True

    def finish(self) -> Evidence:
        sig = ["WARNING: DATA RACE"] + [f"{acc}: {norm(fn)}" for acc, fn in self.accesses]
        return self.evidence("race", "\n".join(sig))


# -- panics and timeouts ---------------------------------------------------------------------------

_RUNNING = re.compile(r"^\s+(\S+) \((?:\d[\w.]*)\)\s*$")
_SKIP_FRAMES = (
    "runtime.",
    "runtime/debug.",
    "testing.",
    "reflect.",
    "github.com/stretchr/testify/",
    "panic",
)


def deepest(tests: list[str]) -> list[str]:
    """The tests that are not a parent of another one in the list (order kept, no repeats)."""
    out: list[str] = []
    for t in tests:
        if t in out or any(o.startswith(t + "/") for o in tests):
            continue
        out.append(t)
    return out


class Panic(Block):
    """`panic: ...` (with `[recovered]`, the signal line, the first goroutine's stack), a
    timeout's `panic: test timed out after ...` with its `running tests:` list, a runtime
    `fatal error: ...`, or testify's indented `test panicked: ...` message with its stack."""

    def __init__(self, line: str, lineno: int, message: str, nested: bool) -> None:
        super().__init__(line, lineno)
        self.message = message.replace(" [recovered]", "").strip()
        self.timeout = self.message.startswith("test timed out")
        self.nested = nested
        self.base = indent_of(line)
        self.running: list[str] = []
        self.in_list = False
        self.goroutines = 0
        self.funcs: list[str] = []
        self.head = 0

    def accept(self, line: str, s: str, ind: int) -> bool:
        if self.nested and ind <= self.base:
            return False
        if s == "running tests:":
            self.in_list = True
            return True
        if self.in_list:
            m = _RUNNING.match(line)
            if m is not None:
                if len(self.running) < 50:
                    self.running.append(m.group(1))
                return True
            self.in_list = False
        if s.startswith("goroutine ") and s.endswith(":"):
            if self.timeout or self.goroutines:
                return False
            self.goroutines += 1
            return True
        if self.goroutines:
            fn = self.note_frame(line)
            if fn is not None:
                if len(self.funcs) < 64:
                    self.funcs.append(fn)
                return True
            return frame_file(line) is not None
        if s.startswith(("panic: ", "[signal ", "[recovered]", "fatal error: ")):
            return True
        if s.startswith(("FAIL", "exit status", "--- ", "=== ", "ok ")):
            return False
        self.head += 1
        return self.head <= 5  # a panic message of a few lines

    def finish(self) -> Evidence:
        if self.timeout:
            tests = deepest(self.running)
            sig = "\n".join(["panic: test timed out", *tests])
            return self.evidence("timeout", sig, tests=tests)
        top = ""
        start = max((i + 1 for i, f in enumerate(self.funcs) if f == "panic"), default=0)
        for f in self.funcs[start:]:
            if not f.startswith(_SKIP_FRAMES):
                top = f
                break
        sig = f"panic: {norm(self.message)}" + (f"\nat {norm(top)}" if top else "")
        infra = in_failure(self.message)
        return self.evidence("infra" if infra else "panic", sig, infra=infra)


# -- goleak ----------------------------------------------------------------------------------------

_LEAK_TOP = re.compile(r"\[Goroutine \d+ in state [^,\]]*, with (\S+) on top of the stack")


class Leak(Block):
    """goleak's `found unexpected goroutines:` and the `[Goroutine N ...]` entries after it."""

    limit = 100_000

    def __init__(self, line: str, lineno: int) -> None:
        super().__init__(line, lineno)
        self.package_level = "Errors on successful test run" in line
        self.tops: list[str] = []
        self.see(line)

    def see(self, line: str) -> None:
        m = _LEAK_TOP.search(line)
        if m is not None and m.group(1) not in self.tops and len(self.tops) < 20:
            self.tops.append(m.group(1))

    def accept(self, line: str, s: str, ind: int) -> bool:
        if s.startswith(("[Goroutine", "goroutine ", "]", "created by")) or ind > 0:
            self.see(line)
            return True
        return frame_function(line) is not None or frame_file(line) is not None

    def finish(self) -> Evidence:
        tops = sorted(norm(t) for t in self.tops)[:5]
        sig = "\n".join(["goleak: found unexpected goroutines", *tops])
        return self.evidence("leak", sig, package_level=self.package_level)


# -- compile errors --------------------------------------------------------------------------------

COMPILE = re.compile(r"^\s*(?:vet: )?(\S+?\.(?:go|s|c|h|proto)):(\d+)(?::(\d+))?: (.+)$")
BUILD_HEADER = re.compile(r"^# ([\w.\-~/]+)(?: \[[^\]]+\])?\s*$")
COMPILE_PHRASES = re.compile(
    r"undefined: |cannot use |declared and not used|declared but not used|imported and not used"
    r"|syntax error|not enough arguments|too many arguments|has no field or method"
    r"|redeclared in this block|missing return|invalid operation|cannot convert"
    r"|does not implement|assignment mismatch|unknown field|cannot find package"
    r"|no required module provides|is not used|non-name .* on left side|undefined \(type"
)


class Build(Block):
    """`# pkg` and the compiler's `file.go:12:3: message` lines under it."""

    def __init__(self, line: str, lineno: int, package: str = "") -> None:
        super().__init__(line, lineno)
        self.package = package
        self.errors: list[str] = []
        m = COMPILE.match(line)
        if m is not None:
            self.errors.append(f"{m.group(1).rsplit('/', 1)[-1]}: {m.group(4)}")

    def accept(self, line: str, s: str, ind: int) -> bool:
        m = COMPILE.match(line)
        if m is not None:
            if len(self.errors) < 20:
                self.errors.append(f"{m.group(1).rsplit('/', 1)[-1]}: {m.group(4)}")
            return True
        return bool(self.errors) and (ind > 0 or s.startswith(("too many errors", "note: ")))

    def finish(self) -> Evidence | None:
        if not self.errors:
            return None
        first = self.errors[0]
        infra = in_failure(first) or standalone(first.split(": ", 1)[-1])
        kind = "infra" if infra else "build"
        return self.evidence(
            kind, f"build: {norm(first)}", package=self.package, package_level=True, infra=infra
        )
