"""Streaming a log in bounded memory, fast where nothing can be failing.

The log is read in 1 MB chunks. Most of a CI log is passing noise, so instead of handing every
line to Python the scanner looks, with C-speed substring searches, for a handful of trigger
strings that every failure report contains (`FAIL`, `Error Trace`, `panic`, `WARNING: DATA
RACE`, `found unexpected goroutines`; `<failure`/`<error` in JUnit XML), and hands over only the
lines holding one, plus every line for as long as the handler is inside a block or a failure's
output (`busy`). The last 256 KB of a file (the whole of a small one) are handed over line by
line: the end of a job log says how it ended (`##[error]`, a cancelled run, a killed process,
a failed download), and pasted excerpts are small. A stream of unknown size has its first
256 KB read that way instead, and `##[error]` as one more trigger.

The handler may look back (`lookback`, `last_line_with`) at up to a few hundred KB before the
current line, for context that carries no trigger (a `=== RUN` line, a `# pkg` header). Lines
are cut at 64 KB; a stretch of binary junk without newlines is cut into such pieces.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Callable, Iterator
from typing import BinaryIO, Protocol

CHUNK = 1 << 20
KEEP = 256 << 10  # bytes kept before the current position, for looking back
MAX_LINE = 64 << 10
FULL_BYTES = 256 << 10  # the part read line by line (the end of a file, the start of a stream)
MAX_LOOKBACK = 256 << 10

TRIGGERS = (
    b"FAIL",
    b"Error Trace",
    b"panic",
    b"WARNING: DATA RACE",
    b"found unexpected goroutines",
)
STREAM_TRIGGERS = (b"##[error]",)  # a file's end is read line by line: a stream's is not
XML_TRIGGERS = (b"<failure", b"<error")
_INF = 1 << 62


class Sink(Protocol):
    def busy(self) -> bool:
        """Whether the next line is wanted whatever it holds."""

    def line(self, raw: bytes, lineno: int, pos: int) -> None:
        """One line (without its newline), its 1-based number, its offset in `Scanner.buf`."""


def _searcher(needle: bytes) -> Callable[[bytes, int, int], int]:
    """The fastest search for one trigger: the regex engine's literal scan for short ones,
    bytes.find (which skips ahead by the needle's length) for long ones."""
    if len(needle) > 11:

        def find(buf: bytes, pos: int, end: int) -> int:
            return buf.find(needle, pos, end)

        return find
    pattern = re.compile(re.escape(needle))

    def search(buf: bytes, pos: int, end: int) -> int:
        m = pattern.search(buf, pos, end)
        return m.start() if m is not None else -1

    return search


def _size(f: BinaryIO) -> int | None:
    try:
        if f.seekable():
            here = f.tell()
            size = os.fstat(f.fileno()).st_size if _has_fileno(f) else f.seek(0, io.SEEK_END)
            f.seek(here)
            return max(0, size - here)
    except (OSError, ValueError):
        pass
    return None


def _has_fileno(f: BinaryIO) -> bool:
    try:
        f.fileno()
    except (OSError, ValueError, io.UnsupportedOperation):
        return False
    return True


class Scanner:
    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self.buf = b""
        self.base = 0  # offset in the input of buf[0]
        self.full_until = 0  # offsets below this are read line by line
        self.full_from = _INF  # and offsets from this one on
        self.searchers: list[Callable[[bytes, int, int], int]] = []
        self.nxt: list[int] = []

    def run(self, f: BinaryIO) -> None:
        size = _size(f)
        if size is None:
            self.full_until = FULL_BYTES
        else:
            self.full_from = max(0, size - FULL_BYTES)
        start = 0  # index in buf of the first byte not handed over yet
        lineno = 1
        first = True
        while True:
            chunk = f.read(CHUNK)
            if first:
                self._choose_triggers(chunk, size is None)
                first = False
            if chunk:
                cut = start - KEEP
                if cut > 0:
                    nl = self.buf.find(b"\n", cut, start)
                    cut = nl + 1 if nl >= 0 else start
                    self.base += cut
                    start -= cut
                    self.buf = b"".join((memoryview(self.buf)[cut:], chunk))
                else:
                    self.buf += chunk
                end = self.buf.rfind(b"\n", start) + 1
                if len(self.buf) - end > MAX_LINE:  # junk without newlines: cut it up
                    end = len(self.buf)
                if end <= start:
                    continue
            else:
                end = len(self.buf)
                if end <= start:
                    break
            self.nxt = [-1] * len(self.searchers)
            lineno = self._region(start, end, lineno)
            start = end
            if not chunk:
                break

    def _choose_triggers(self, chunk: bytes, stream: bool) -> None:
        head = chunk[:512].lstrip(b"\xef\xbb\xbf \t\r\n")
        triggers = TRIGGERS + (STREAM_TRIGGERS if stream else ())
        if head.startswith((b"<?xml", b"<testsuite", b"<testcase")):
            triggers += XML_TRIGGERS
        self.searchers = [_searcher(t) for t in triggers]

    def full_at(self, pos: int) -> bool:
        """Whether the line at buf[pos] is read line by line whatever it holds."""
        at = self.base + pos
        return at < self.full_until or at >= self.full_from

    def _fast_end(self, pos: int, end: int) -> int:
        """Where the region read by triggers ends: at `end`, or at the first line start from
        which on (or up to which) every line is read."""
        lim = end
        if self.full_from < _INF:
            t = self.full_from - self.base
            if t < end:
                t = max(t, pos)
                lim = (
                    t
                    if t == 0 or self.buf[t - 1 : t] == b"\n"
                    else self.buf.find(b"\n", t, end) + 1
                )
                if lim <= 0:
                    lim = end
        return lim

    def _next_hit(self, pos: int, end: int) -> int:
        best = _INF
        buf = self.buf
        for i, search in enumerate(self.searchers):
            at = self.nxt[i]
            if at < pos and at != _INF:
                at = search(buf, pos, end)
                at = _INF if at < 0 else at
                self.nxt[i] = at
            best = min(best, at)
        return best

    def _region(self, start: int, end: int, lineno: int) -> int:
        buf = self.buf
        sink = self.sink
        pos = start
        while pos < end:
            if not (sink.busy() or self.full_at(pos)):
                fe = self._fast_end(pos, end)
                hit = self._next_hit(pos, end)
                if hit >= fe:
                    lineno += buf.count(b"\n", pos, fe)
                    pos = fe
                    continue
                ls = buf.rfind(b"\n", max(pos, hit - MAX_LINE), hit) + 1
                ls = max(ls, pos, hit - MAX_LINE)
                lineno += buf.count(b"\n", pos, ls)
                pos = ls
            lim = min(end, pos + MAX_LINE)
            nl = buf.find(b"\n", pos, lim)
            le = nl if nl >= 0 else lim
            sink.line(buf[pos:le], lineno, pos)
            if nl >= 0:
                lineno += 1
                pos = le + 1
            else:
                pos = le
        return lineno

    # -- looking back ------------------------------------------------------------------------------

    def back(self, pos: int, max_lines: int, max_bytes: int = MAX_LOOKBACK) -> Iterator[bytes]:
        """Whole lines before the line starting at pos, newest first (up to max_lines, and
        within max_bytes)."""
        buf = self.buf
        lo = max(0, pos - min(max_bytes, MAX_LOOKBACK))
        e = pos - 1  # the newline ending the previous line
        n = 0
        while n < max_lines and e >= lo:
            s = buf.rfind(b"\n", lo, e) + 1
            if s == 0 and lo > 0:
                return
            yield buf[s : min(e, s + MAX_LINE)]
            e = s - 1
            n += 1

    def lookback(self, pos: int, max_lines: int, max_bytes: int = MAX_LOOKBACK) -> list[bytes]:
        """Up to max_lines whole lines before the line starting at pos, oldest first."""
        out = list(self.back(pos, max_lines, max_bytes))
        out.reverse()
        return out

    def last_line_with(
        self, needles: tuple[bytes, ...], pos: int, max_bytes: int = MAX_LOOKBACK
    ) -> bytes | None:
        """The last line before pos (within max_bytes) that holds one of the needles."""
        buf = self.buf
        lo = max(0, pos - min(max_bytes, MAX_LOOKBACK))
        at = max(buf.rfind(n, lo, pos) for n in needles)
        if at < 0:
            return None
        s = buf.rfind(b"\n", lo, at) + 1
        e = buf.find(b"\n", at, pos)
        e = e if e >= 0 else pos
        return buf[s : min(e, s + MAX_LINE)]
