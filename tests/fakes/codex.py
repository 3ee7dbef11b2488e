#!/usr/bin/env python3
"""A fake `codex` (modelled on @openai/codex 0.169.0) for the tests; see README.md here.

Accepts exactly the real clap grammar of `codex exec [OPTIONS] [PROMPT]`,
`codex exec [OPTIONS] resume [OPTIONS] [SESSION_ID] [PROMPT]` and `codex login status [OPTIONS]`,
rejects anything else with the real usage errors (exit 2), and acts on the first directive of the
prompt (Create PATH, Nothing, Fail, Crash, Hang, UsageLimit, Garbage, Approve, RequestChanges).

Environment: FAKE_CODEX_LOGGED_IN (1 default / 0), FAKE_AGENT_LOG (one JSON line per call),
FAKE_AGENT_STATE (a folder: remembers thread ids, so an unknown `resume` id starts a new thread as
the real one does), FAKE_USAGE_RESET_SECONDS (3600), FAKE_GARBAGE_BYTES (3 MB).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

VERSION = "codex-cli 0.169.0"
EXEC_USAGE = "Usage: codex exec [OPTIONS] [PROMPT]\n       codex exec [OPTIONS] <COMMAND> [ARGS]"
RESUME_USAGE_FLAG = "Usage: codex exec resume <SESSION_ID> [PROMPT]"
RESUME_USAGE_POS = "Usage: codex exec resume [OPTIONS] [SESSION_ID] [PROMPT]"
LOGIN_STATUS_USAGE = "Usage: codex login status [OPTIONS]"
MORE = "For more information, try '--help'."
SANDBOX = ["read-only", "workspace-write", "danger-full-access"]
CYBER = ["standard", "daybreak_blue", "daybreak_red"]
COLOR = ["always", "never", "auto"]

# name -> (value name or None for a flag, repeatable, choices). Short aliases map to long names.
COMMON_VALUE = {
    "--config": ("<key=value>", True, None),
    "--enable": ("<FEATURE>", True, None),
    "--disable": ("<FEATURE>", True, None),
    "--model": ("<MODEL>", False, None),
    "--thread-source": ("<SOURCE>", False, None),
    "--cyber-access-program": ("<PROGRAM>", False, CYBER),
    "--output-schema": ("<FILE>", False, None),
    "--output-last-message": ("<FILE>", False, None),
}
COMMON_FLAGS = [
    "--strict-config",
    "--dangerously-bypass-approvals-and-sandbox",
    "--dangerously-bypass-hook-trust",
    "--worktree",
    "--skip-git-repo-check",
    "--trust",
    "--ephemeral",
    "--ignore-user-config",
    "--ignore-rules",
    "--json",
]
EXEC_OPTS = {
    **COMMON_VALUE,
    "--image": ("<FILE>...", True, None),
    "--local-provider": ("<OSS_PROVIDER>", False, None),
    "--profile": ("<CONFIG_PROFILE_V2>", False, None),
    "--sandbox": ("<SANDBOX_MODE>", False, SANDBOX),
    "--cd": ("<DIR>", False, None),
    "--add-dir": ("<DIR>", True, None),
    "--color": ("<COLOR>", False, COLOR),
    **{f: (None, False, None) for f in [*COMMON_FLAGS, "--oss", "--approve-for-me"]},
}
EXEC_SHORT = {
    "-c": "--config",
    "-i": "--image",
    "-m": "--model",
    "-p": "--profile",
    "-s": "--sandbox",
    "-C": "--cd",
    "-o": "--output-last-message",
}
RESUME_OPTS = {
    **COMMON_VALUE,
    "--image": ("<FILE>", True, None),
    **{f: (None, False, None) for f in [*COMMON_FLAGS, "--last", "--all"]},
}
RESUME_SHORT = {"-c": "--config", "-i": "--image", "-m": "--model", "-o": "--output-last-message"}
LOGIN_STATUS_OPTS = {k: COMMON_VALUE[k] for k in ("--config", "--enable", "--disable")}

_log: dict = {"prog": "codex", "argv": sys.argv[1:], "cwd": os.getcwd(), "stdin_len": None}


class Usage(Exception):
    pass


def write_log() -> None:
    if os.environ.get("FAKE_AGENT_LOG"):
        with open(os.environ["FAKE_AGENT_LOG"], "a") as f:
            f.write(json.dumps(_log) + "\n")


def usage_exit(message: str) -> int:
    sys.stderr.write(message)
    write_log()
    return 2


def unexpected(arg: str, usage: str, tip: bool = True) -> Usage:
    text = f"error: unexpected argument '{arg}' found\n\n"
    if tip and arg.startswith("-"):
        text += f"  tip: to pass '{arg}' as a value, use '-- {arg}'\n\n"
    return Usage(f"{text}{usage}\n\n{MORE}\n")


def parse(args, i, opts, short, usage, max_pos, stop_at=None):
    """Parse clap-style options until a subcommand word (stop_at) or the end.

    Returns (values, positionals, index of the subcommand or len(args))."""
    values: dict[str, list[str]] = {}
    positionals: list[str] = []
    dashdash = False
    while i < len(args):
        a = args[i]
        if dashdash or a == "-" or not a.startswith("-"):
            if not dashdash and not positionals and stop_at and a in stop_at:
                return values, positionals, i
            if len(positionals) >= max_pos:
                raise unexpected(a, usage, tip=False)
            positionals.append(a)
            i += 1
            continue
        if a == "--":
            dashdash = True
            i += 1
            continue
        if a in ("-h", "--help"):
            print(f"(fake codex) {usage}")
            raise SystemExit(0)
        name, inline = a, None
        if a.startswith("--") and "=" in a:
            name, inline = a.split("=", 1)
        elif not a.startswith("--") and len(a) > 2:
            name, inline = a[:2], a[2:]
        name = short.get(name, name)
        if name not in opts:
            raise unexpected(a, usage)
        meta, repeatable, choices = opts[name]
        label = f"'{name} {meta}'" if meta else f"'{name}'"
        if name in values and not repeatable:
            raise Usage(
                f"error: the argument {label} cannot be used multiple times\n\n{usage}\n\n{MORE}\n"
            )
        if meta is None:
            if inline is not None:
                raise unexpected(a, usage)
            values[name] = ["true"]
            i += 1
            continue
        if inline is None:
            if i + 1 >= len(args) or (args[i + 1].startswith("-") and args[i + 1] != "-"):
                raise Usage(
                    f"error: a value is required for {label} but none was supplied\n\n{MORE}\n"
                )
            inline = args[i + 1]
            i += 1
        if choices and inline not in choices:
            raise Usage(
                f"error: invalid value '{inline}' for {label}\n"
                f"  [possible values: {', '.join(choices)}]\n\n{MORE}\n"
            )
        values.setdefault(name, []).append(inline)
        i += 1
    return values, positionals, i


def one(values: dict, name: str) -> str | None:
    return values.get(name, [None])[-1]


def new_thread_id() -> str:
    ms = int(time.time() * 1000)
    rnd = uuid.uuid4().hex
    return f"{ms >> 16:08x}-{ms & 0xFFFF:04x}-7{rnd[:3]}-{rnd[3:7]}-{rnd[7:19]}"


def in_git_repo(path: Path) -> bool:
    return any((p / ".git").exists() for p in [path, *path.parents])


def day_suffix(day: int) -> str:
    if 11 <= day % 100 <= 13:
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")


def reset_text() -> str:
    """codex-rs format_retry_timestamp: "%-I:%M %p" today, else "%b %-d{th}, %Y %-I:%M %p"."""
    reset = dt.datetime.now() + dt.timedelta(
        seconds=float(os.environ.get("FAKE_USAGE_RESET_SECONDS", "3600"))
    )
    clock = f"{reset.hour % 12 or 12}:{reset.minute:02d} {'AM' if reset.hour < 12 else 'PM'}"
    if reset.date() == dt.date.today():
        return clock
    return f"{reset:%b} {reset.day}{day_suffix(reset.day)}, {reset.year} {clock}"


def find_directive(prompt: str) -> tuple[str, str]:
    task = prompt.split("## The task", 1)[-1]
    words = "Create|Nothing|Fail|Crash|Hang|UsageLimit|Garbage|Approve|RequestChanges"
    m = re.search(rf"\b({words})\b(.*)", task)
    return (m.group(1), m.group(2).strip()) if m else ("", "")


def verdict(kind: str) -> str:
    if kind == "Approve":
        obj = {"verdict": "approve", "score": 9, "summary": "ok", "comments": [], "evidence": []}
    else:
        obj = {
            "verdict": "request_changes",
            "score": 3,
            "summary": "needs work",
            "comments": [{"path": "README.md", "line": 1, "body": "please fix"}],
            "evidence": [],
        }
    return "Review done.\n\n```json\n" + json.dumps(obj) + "\n```\n"


def state_file() -> Path | None:
    d = os.environ.get("FAKE_AGENT_STATE")
    return Path(d) / "codex-threads.txt" if d else None


def run_exec(opts: dict, resume_id: str | None, prompt: str) -> int:
    json_mode = "--json" in opts
    workdir = Path(one(opts, "--cd") or ".").resolve()
    last_file = one(opts, "--output-last-message")
    for kv in opts.get("--config", []):
        if "=" not in kv:
            print(
                f"Error parsing -c overrides: Invalid override (missing '='): {kv}", file=sys.stderr
            )
            return 1
    if not workdir.is_dir():
        print(f"Error: No such file or directory (os error 2): {workdir}", file=sys.stderr)
        return 1
    if "--skip-git-repo-check" not in opts and not in_git_repo(workdir):
        print(
            "Not inside a trusted directory and --skip-git-repo-check was not specified.",
            file=sys.stderr,
        )
        return 1
    if last_file:
        Path(last_file).write_text("")  # the real one leaves an empty file when killed

    sf = state_file()
    known = set(sf.read_text().split()) if sf and sf.exists() else set()
    # The real one starts a new thread for an unknown id.
    resumable = resume_id and (sf is None or resume_id in known)
    thread_id = resume_id if resumable else new_thread_id()
    if sf:
        with sf.open("a") as f:
            f.write(thread_id + "\n")

    def emit(event: dict) -> None:
        if json_mode:
            sys.stdout.write(json.dumps(event, separators=(",", ":")) + "\n")
            sys.stdout.flush()

    counter = [0]

    def item(body: dict, started: bool = False, same: bool = False) -> None:
        n = counter[0] - 1 if same else counter[0]
        counter[0] = n + 1
        kind = "item.started" if started else "item.completed"
        emit({"type": kind, "item": {"id": f"item_{n}", **body}})

    def finish(message: str) -> int:
        item({"type": "agent_message", "text": message})
        tokens = len(prompt) // 4 + 1000
        emit(
            {
                "type": "turn.completed",
                "usage": {
                    "input_tokens": tokens,
                    "cached_input_tokens": tokens // 2,
                    "output_tokens": 200 + len(message) // 4,
                },
            }
        )
        if last_file:
            Path(last_file).write_text(message)
        if not json_mode:
            sys.stdout.write(message + "\n")
        return 0

    def fail(message: str) -> int:
        emit({"type": "error", "message": message})
        emit({"type": "turn.failed", "error": {"message": message}})
        if not json_mode:
            print(f"ERROR: {message}", file=sys.stderr)
        return 1

    if not json_mode:
        print(
            f"{VERSION[10:]}\n--------\nworkdir: {workdir}\nsession id: {thread_id}\n--------",
            file=sys.stderr,
        )
    emit({"type": "thread.started", "thread_id": thread_id})
    emit({"type": "turn.started"})
    verb, rest = find_directive(prompt)
    item({"type": "reasoning", "text": "**Working on the task**"})
    if verb == "Hang":
        subprocess.Popen(["sleep", "3600"])
        time.sleep(3600)
        return 0
    if verb == "Fail":
        return fail("The fake codex failed on purpose.")
    if verb == "UsageLimit":
        return fail(f"You've hit your usage limit. Try again at {reset_text()}.")
    if verb == "Crash":
        sys.stderr.write("thread 'main' panicked at fake.rs:1:1:\nfake crash\n")
        sys.stderr.flush()
        os._exit(101)
    if verb == "Garbage":
        size = int(os.environ.get("FAKE_GARBAGE_BYTES", str(3 * 1024 * 1024)))
        sys.stdout.write('{"type": "item.completed", "item": {not json\n')
        line = "garbage " * 15 + "\n"
        sys.stdout.write(line * (size // len(line) + 1))
        return 0
    if verb in ("Approve", "RequestChanges"):
        return finish(verdict(verb))
    if verb == "Create" and rest:
        rel = rest.split()[0].strip("`")
        target = workdir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha1(prompt.encode()).hexdigest()[:8]
        target.write_text(f"Create {rest}\nprompt {digest}\n")
        cmd = {
            "type": "command_execution",
            "command": f"bash -lc 'cat > {rel}'",
            "aggregated_output": "",
            "exit_code": None,
            "status": "in_progress",
        }
        item(cmd, started=True)
        item({**cmd, "exit_code": 0, "status": "completed"}, same=True)
        item(
            {
                "type": "file_change",
                "changes": [{"path": str(target), "kind": "add"}],
                "status": "completed",
            }
        )
        return finish(f"Created {rel}.")
    if verb == "Nothing":
        return finish("I looked and decided nothing needs changing.")
    return finish("No directive found; I did nothing.")


def main() -> int:
    args = sys.argv[1:]
    if args in (["--version"], ["-V"]):
        print(VERSION)
        return 0
    try:
        if args[:2] == ["login", "status"]:
            _, pos, _ = parse(args, 2, LOGIN_STATUS_OPTS, {"-c": "--config"}, LOGIN_STATUS_USAGE, 0)
            write_log()
            if os.environ.get("FAKE_CODEX_LOGGED_IN", "1") == "0":
                print("Not logged in", file=sys.stderr)
                return 1
            print("Logged in using ChatGPT", file=sys.stderr)
            return 0
        if args[:1] != ["exec"]:
            print(f"fake codex: unsupported command line {args!r}", file=sys.stderr)
            write_log()
            return 3
        opts, pos, i = parse(args, 1, EXEC_OPTS, EXEC_SHORT, EXEC_USAGE, 1, stop_at={"resume"})
        resume_id = None
        if i < len(args):  # the `resume` subcommand: only its own options may follow
            ropts, rpos, _ = parse(args, i + 1, RESUME_OPTS, RESUME_SHORT, RESUME_USAGE_FLAG, 99)
            if len(rpos) > 2:
                raise unexpected(rpos[2], RESUME_USAGE_POS, tip=False)
            for k, v in ropts.items():
                opts.setdefault(k, []).extend(v)
            if not rpos and "--last" not in ropts:
                print("fake codex: resume without an id is not modelled", file=sys.stderr)
                return 3
            resume_id = rpos[0] if rpos else None
            pos = rpos[1:]
    except Usage as e:
        return usage_exit(str(e))
    prompt_arg = pos[0] if pos else None
    if prompt_arg is None:
        print("Reading prompt from stdin...", file=sys.stderr)
    stdin = ""
    if prompt_arg in (None, "-") or not sys.stdin.isatty():
        stdin = sys.stdin.read()
    prompt = stdin if prompt_arg in (None, "-") else f"{prompt_arg}\n<stdin>\n{stdin}</stdin>"
    _log["stdin_len"] = len(stdin)
    write_log()
    if not prompt.strip():
        print("No prompt provided via stdin.", file=sys.stderr)
        return 1
    return run_exec(opts, resume_id, prompt)


if __name__ == "__main__":
    sys.exit(main())
