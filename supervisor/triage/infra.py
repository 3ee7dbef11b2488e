"""Infrastructure signatures: text that says the runner, network, disk or memory failed, not the
code under test.

Two strengths. `in_failure` phrases make a test's own failure infrastructure trouble wherever its
text shows them (an assertion that failed on `bind: address already in use`). `standalone` lines
are infrastructure failures by themselves, with no test named: the runner lost or cancelled, the
job killed, a module or git download cut short, a tool missing its file.
"""

from __future__ import annotations

import re

_IN_FAILURE = [
    (r"runner has received a shutdown signal", "the runner received a shutdown signal"),
    (r"lost communication with the server", "the runner lost communication with the server"),
    (r"no space left on device", "no space left on device"),
    (
        r"fatal error: runtime: out of memory|out of memory: kill|\boom-kill|OOMKilled"
        r"|cannot allocate memory",
        "out of memory",
    ),
    (r"bind: address already in use", "port collision: address already in use"),
]
IN_FAILURE = [(re.compile(p, re.IGNORECASE), why) for p, why in _IN_FAILURE]

_NET = (
    r"dial tcp|i/o timeout|no such host|unexpected EOF|connection reset by peer"
    r"|connection refused|TLS handshake timeout|Service Unavailable|Bad Gateway"
    r"|Gateway Time-?out|Too Many Requests|network is unreachable|Client\.Timeout exceeded"
    r"|invalid pseudo-version|early EOF|unexpected disconnect|index-pack failed"
    r"|Could not resolve host|RPC failed|remote end hung up|read: connection timed out"
)
_STANDALONE = [
    (re.compile(r"^(?:Error: )?The operation was cancel+ed\.?$"), "the run was cancelled"),
    (
        re.compile(r"Process completed with exit code (?:137|143)\b"),
        "the job was killed (exit code 137/143)",
    ),
    (
        re.compile(r"\bsignal: killed\b|^(?:.*\s)?Killed$"),
        "the process was killed (out of memory?)",
    ),
    # a module or toolchain download cut short: a `go:` line or one naming module@version
    (
        re.compile(rf"(?:^go: |@v\d|proxy\.golang\.org|sum\.golang\.org).*(?:{_NET})"),
        "a module download failed (network)",
    ),
    (
        re.compile(
            r"^(?:fatal|error): (?:early EOF|index-pack failed|unable to access|"
            r"the remote end hung up|RPC failed)"
        ),
        "a git download failed (network)",
    ),
    # a CI tool or script missing its file or command (not a test's message, not a log line)
    (
        re.compile(
            r"^(?![IWEF]\d{4} )(?!.*\.go:\d+:)(?=.*\b(?:error|cannot|can't|failed|unable)\b)"
            r".*: (?:no such file or directory|command not found)$",
            re.IGNORECASE,
        ),
        "a CI tool or file is missing",
    ),
]
_STANDALONE_HINT = re.compile(
    r"shutdown signal|lost communication|space left|out of memory|oom-kill|OOMKilled"
    r"|allocate memory|cancel|exit code 1[34]|killed|go: |@v\d|golang\.org|fatal: |error: "
    r"|no such file|command not found|address already in use",
    re.IGNORECASE,
)


def in_failure(text: str) -> str:
    """Why a failure showing this text is infrastructure trouble, or ""."""
    for pattern, why in IN_FAILURE:
        if pattern.search(text):
            return why
    return ""


def standalone(line: str) -> str:
    """Why this log line (cleaned, not part of a test's output block) is an infrastructure
    failure by itself, or ""."""
    s = line.strip()
    if not s or s[0] in "[{" or _STANDALONE_HINT.search(s) is None:
        return ""
    if "address already in use" not in s:
        for pattern, why in IN_FAILURE:
            if pattern.search(s):
                return why
    for pattern, why in _STANDALONE:
        if pattern.search(s):
            return why
    return ""
