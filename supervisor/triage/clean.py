"""Cleaning of log lines for extraction, and the normalization of failure signatures.

`clean_line` undoes what CI systems and pasting add around a line: Actions and Jenkins
timestamps, `gh run view --log` job/step columns, web viewers' line-number prefixes, viewer
anchors inside numbers (`+0x5[25](https://...)` -> `+0x525`), Blue Ocean's empty anchors, ANSI
colour codes and the runner's `##[group]`-style markers. Indentation and tabs stay: the parsers
read the shape of testify blocks and nested `--- FAIL` lines from them.

`norm` turns a key line into its stable form for a signature: no timestamps, hex addresses,
goroutine ids, durations, ports, temporary folders, checkout roots or module-cache versions.
"""

from __future__ import annotations

import re

# -- cleaning --------------------------------------------------------------------------------------

_EMPTY_ANCHOR = re.compile(r"\[\]\([^)\s]*\)")
_DIGIT_ANCHOR = re.compile(r"\[(\d+)\]\(https?://[^)\s]*\)")
_GH_CLI = re.compile(r"^[^\t]*\t[^\t]*\t(?=\d{4}-\d\d-\d\dT)")
_LINE_NO = re.compile(r"^\s*\d{1,9}(?: \| ?|\t| (?=\s*\S)|$)")
_STAMP = re.compile(
    r"^\[?\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)\]?(?: |$)"
)
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][0-9A-Za-z]|\[\d{1,3}(?:;\d{1,3})*m")
_RUNNER = re.compile(
    r"^(?:##\[(group|endgroup|error|warning|notice|debug|command|section)\]"
    r"|::(group|endgroup|error|warning|notice|debug)(?: [^:]*)?::)"
)


def clean_line(text: str) -> tuple[str, str]:
    """The line without CI and pasting decorations, and the runner marker it carried ("" if
    none: "group", "endgroup", "error", "warning", "command", ...)."""
    if "\x00" in text:
        text = text.replace("\x00", "")
    if text[:1] == "\ufeff":
        text = text[1:]
    text = text.rstrip("\r\n")
    if "\r" in text:  # a progress line rewritten in place: the last version is what was shown
        text = text.rstrip("\r").rsplit("\r", 1)[-1]
    if "](" in text:
        text = _DIGIT_ANCHOR.sub(r"\1", _EMPTY_ANCHOR.sub("", text))
    if "\t" in text and "T" in text:
        text = _GH_CLI.sub("", text, count=1)
    first = text[:1]
    if first.isdigit() or first == " ":
        m = _STAMP.match(text)
        if m is None:
            m = _LINE_NO.match(text)
            if m is not None and m.end():
                text = text[m.end() :]
                m = _STAMP.match(text)
        if m is not None:
            text = text[m.end() :]
    elif first == "[":
        m = _STAMP.match(text)
        if m is not None:
            text = text[m.end() :]
    if "\x1b" in text or "[0m" in text:
        text = _ANSI.sub("", text)
    marker = ""
    if text[:2] in ("##", "::"):
        m = _RUNNER.match(text)
        if m is not None:
            marker = m.group(1) or m.group(2) or ""
            text = text[m.end() :]
    return text, marker


def indent_of(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


# -- paths -----------------------------------------------------------------------------------------

_HOSTS = r"(?:github\.com|gitlab\.com|bitbucket\.org|gitee\.com|golang\.org|gopkg\.in|k8s\.io|go\.[\w-]+\.io|[\w-]+\.(?:io|org|net|com))"  # noqa: E501
_CHECKOUT = re.compile(
    r"^(?:.*?/home/runner/work/[^/]+/[^/]+/"
    r"|.*?/__w/[^/]+/[^/]+/"
    rf"|.*?/(?:go|gopath)/src/{_HOSTS}/[^/]+/[^/]+/"
    r"|.*?/execroot/__main__/(?:bazel-out/.*?\.runfiles/__main__/)?"
    r"|.*?\.runfiles/__main__/)"
)
_MODCACHE = re.compile(r"^.*?/pkg/mod/(?!cache/)([^@\s]+)@[^/\s]+/")
_GOROOT = re.compile(
    r"^(?:.*?/(?:go|x64|libexec|goroot|GOROOT)|GOROOT|.*?/toolchain@[^/\s]+)/src/"
    r"(?=[a-z0-9_/]+\.(?:go|s)(?::|$))"
)


def repo_path(path: str) -> tuple[str, str]:
    """(kind, path) of a source path from a stack or trace: kind "repo" with the path relative to
    the checkout (GitHub runner, container job, GOPATH, Bazel), "std" for the Go toolchain's own
    sources (relative to GOROOT/src), "mod" for the module cache (module path + file), "" when
    the root is not recognized (the path as given)."""
    m = _GOROOT.match(path)
    if m is not None:
        return "std", path[m.end() :]
    m = _MODCACHE.match(path)
    if m is not None:
        return "mod", m.group(1) + "/" + path[m.end() :]
    m = _CHECKOUT.match(path)
    if m is not None:
        return "repo", path[m.end() :]
    return "", path


def repo_dir(path: str) -> str:
    """The checkout-relative folder of a file path inside a known checkout root, else ""."""
    kind, rel = repo_path(path)
    if kind != "repo" or "/" not in rel:
        return ""
    return rel.rsplit("/", 1)[0]


def basename(path: str) -> str:
    return path.rsplit("/", 1)[-1]


# -- Go stack frames -------------------------------------------------------------------------------

_FUNC_NAME = re.compile(r"^[\w.\-~%/()*\[\],]*\.[\w.\-~%/()*\[\],]*$")
_TEST_FUNC = re.compile(
    r"^(?P<pkg>(?:[\w.\-~%]+/)*[\w.\-~%]+?)\.(?:\(\*?(?P<recv>\w+)\)\.)?"
    r"(?P<name>Test(?:[A-Z0-9_]\w*)?)(?:\.(?:func|gowrap)\d+(?:\.\d+)*)*$"
)
_FILE = re.compile(r"^\s*(\S+\.(?:go|s)|<autogenerated>):(\d+)(?: \+0x[0-9a-fA-F]+)?\s*$")


def frame_function(line: str) -> str | None:
    """The function of a Go stack function line without its arguments (`panic` for the
    `panic({...})` frame), else None."""
    s = line.strip()
    if s.startswith("created by "):
        s = s[len("created by ") :].split(" in goroutine ", 1)[0]
    if not s or s[0] in "/[<#" or ".go:" in s or s.startswith("panic("):
        return "panic" if s.startswith("panic(") else None
    if s.endswith(")"):
        depth = 0
        for i in range(len(s) - 1, -1, -1):
            c = s[i]
            if c == ")":
                depth += 1
            elif c == "(":
                depth -= 1
                if depth == 0:
                    s = s[:i]
                    break
        else:
            return None
    return s if _FUNC_NAME.match(s) else None


def frame_file(line: str) -> tuple[str, int] | None:
    m = _FILE.match(line)
    return (m.group(1), int(m.group(2))) if m is not None else None


def test_of_function(func: str) -> tuple[str, str, str] | None:
    """(test, suite type, import path) when a stack function is a test or a suite's test method.

    `pkg_test.(*fooSuite).TestBar` gives ("TestBar", "fooSuite", "pkg"); `pkg.TestX.func1`
    gives ("TestX", "", "pkg")."""
    m = _TEST_FUNC.match(func)
    if m is None:
        return None
    pkg = m.group("pkg")
    if pkg.endswith("_test"):
        pkg = pkg[: -len("_test")]
    return m.group("name"), m.group("recv") or "", pkg


# -- normalization ---------------------------------------------------------------------------------

_N_STAMPS = re.compile(
    r"\[?\d{4}[-/]\d\d[-/]\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?: ?(?:Z|[+-]\d\d:?\d\d))?\]?"
    r"|\b\d\d:\d\d:\d\d(?:\.\d+)?\b"
)
_N_ROOTS = re.compile(
    r"(?:/[^\s\"'()]*?)?(?:/home/runner/work/[^/\s]+/[^/\s]+/|/__w/[^/\s]+/[^/\s]+/"
    rf"|/(?:go|gopath)/src/{_HOSTS}/[^/\s]+/[^/\s]+/"
    r"|/execroot/__main__/(?:bazel-out/\S*?\.runfiles/__main__/)?|\.runfiles/__main__/)"
)
_N_MOD = re.compile(r"(?:/[^\s\"'()]*?)?/pkg/mod/([^@\s]+)@[^/\s]+/")
_N_GOROOT = re.compile(
    r"(?:/[^\s\"'()]*?)?(?:/go|/x64|/libexec|toolchain@[^/\s]+)/src/([a-z0-9_/]+\.(?:go|s))(?::\d+)?"
)
_N_TEMP = re.compile(r"(?:/private)?/var/folders/\S*|(?<![\w.])/tmp/[^\s\"'),\]]*|\$WORK/\S*")
_N_OFFSET = re.compile(r" \+0x[0-9a-fA-F]+\b")
_N_HEX = re.compile(r"\b0x[0-9a-fA-F]+\b")
_N_GOROUTINE = re.compile(r"\b([Gg]oroutine) \d+")
_N_PORT = re.compile(r"((?:\d{1,3}\.){3}\d{1,3}|localhost|\[::1?\]|\]):\d{2,5}\b")
_N_DUR = re.compile(
    r"(?<![\w.])\d+(?:\.\d+)?(?:ns|us|µs|μs|ms|s|m|h)(?:\d+(?:\.\d+)?(?:ns|us|µs|μs|ms|s|m|h))*"
    r"(?![\w.])"
)
_N_UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
_N_STD_LINE = re.compile(r"\b((?:testing|panic|proc|asm_\w+)\.(?:go|s)|<autogenerated>):\d+")
_N_SPACE = re.compile(r"\s+")
MAX_SIG_LINE = 240


def norm(text: str) -> str:
    """One key line in its stable form (see the module docstring)."""
    s = _N_STAMPS.sub("", text)
    if "/" in s:
        s = _N_TEMP.sub("<tmp>", s)
        s = _N_MOD.sub(r"\1/", s)
        s = _N_GOROOT.sub(r"\1", s)
        s = _N_ROOTS.sub("", s)
    if "0x" in s:
        s = _N_HEX.sub("0x?", _N_OFFSET.sub("", s))
    s = _N_GOROUTINE.sub(r"\1 N", s)
    s = _N_UUID.sub("<uuid>", s)
    s = _N_PORT.sub(r"\1:<port>", s)
    s = _N_DUR.sub("<dur>", s)
    s = _N_STD_LINE.sub(r"\1", s)
    s = _N_SPACE.sub(" ", s).strip()
    return s[:MAX_SIG_LINE]


def short_frame(path_line: str) -> str:
    """`/home/runner/work/pd/pd/tests/api/x_test.go:871` -> `x_test.go:871` (the file's own
    name and line: the same on every CI system, whatever the checkout root)."""
    path = path_line.strip().split(" ")[0]
    return basename(path)
