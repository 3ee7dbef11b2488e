#!/usr/bin/env python3
"""A fake `claude` (modelled on @anthropic-ai/claude-code 2.1.197) for the tests; see README.md.

Parses the command line like the real commander.js one (variadic `--allowedTools a b ...` swallows
a following positional prompt; unknown option -> "error: unknown option '--x'", exit 1, as the real
one does), supports only print mode (-p), reads the prompt on stdin, and acts on the first
directive of the prompt (Create PATH, Nothing, Fail, MaxTurns, Crash, Hang, UsageLimit, Garbage,
Approve, RequestChanges).

Environment: FAKE_CLAUDE_LOGGED_IN (1 default / 0), FAKE_AGENT_LOG (one JSON line per call),
FAKE_AGENT_STATE (a folder: remembers sessions per cwd, so `--resume` of an unknown id fails as the
real one does), FAKE_USAGE_RESET_SECONDS (3600), FAKE_GARBAGE_BYTES (3 MB).
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

VERSION = "2.1.197 (Claude Code)"
NOT_LOGGED_IN = "Not logged in · Please run /login"
OUTPUT_FORMATS = ["text", "json", "stream-json"]
MODES = ["acceptEdits", "auto", "bypassPermissions", "default", "dontAsk", "plan"]

# long name -> (kind, metavar, choices); kind: flag | value | optional | variadic
OPTS: dict[str, tuple[str, str, list[str] | None]] = {
    "--print": ("flag", "", None),
    "--output-format": ("value", "<format>", OUTPUT_FORMATS),
    "--input-format": ("value", "<format>", ["text", "stream-json"]),
    "--permission-mode": ("value", "<mode>", MODES),
    "--allowedTools": ("variadic", "<tools...>", None),
    "--disallowedTools": ("variadic", "<tools...>", None),
    "--tools": ("variadic", "<tools...>", None),
    "--add-dir": ("variadic", "<directories...>", None),
    "--mcp-config": ("variadic", "<configs...>", None),
    "--betas": ("variadic", "<betas...>", None),
    "--max-turns": ("value", "<turns>", None),  # hidden from --help, but accepted
    "--max-budget-usd": ("value", "<amount>", None),
    "--resume": ("optional", "[value]", None),
    "--continue": ("flag", "", None),
    "--fork-session": ("flag", "", None),
    "--session-id": ("value", "<uuid>", None),
    "--model": ("value", "<model>", None),
    "--fallback-model": ("value", "<model>", None),
    "--effort": ("value", "<level>", None),
    "--system-prompt": ("value", "<prompt>", None),
    "--append-system-prompt": ("value", "<prompt>", None),
    "--settings": ("value", "<file-or-json>", None),
    "--setting-sources": ("value", "<sources>", None),
    "--json-schema": ("value", "<schema>", None),
    "--name": ("value", "<name>", None),
    "--debug": ("optional", "[filter]", None),
    "--debug-file": ("value", "<path>", None),
    "--verbose": ("flag", "", None),
    "--bare": ("flag", "", None),
    "--strict-mcp-config": ("flag", "", None),
    "--dangerously-skip-permissions": ("flag", "", None),
    "--allow-dangerously-skip-permissions": ("flag", "", None),
    "--include-partial-messages": ("flag", "", None),
    "--no-session-persistence": ("flag", "", None),
    "--disable-slash-commands": ("flag", "", None),
}
ALIASES = {
    "-p": "--print",
    "-r": "--resume",
    "-c": "--continue",
    "-d": "--debug",
    "-n": "--name",
    "--allowed-tools": "--allowedTools",
    "--disallowed-tools": "--disallowedTools",
}

_log: dict = {"prog": "claude", "argv": sys.argv[1:], "cwd": os.getcwd(), "stdin_len": None}


class Usage(Exception):
    pass


def write_log() -> None:
    if os.environ.get("FAKE_AGENT_LOG"):
        with open(os.environ["FAKE_AGENT_LOG"], "a") as f:
            f.write(json.dumps(_log) + "\n")


def parse(args: list[str]) -> tuple[dict[str, list[str]], list[str]]:
    values: dict[str, list[str]] = {}
    positionals: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--":
            positionals.extend(args[i + 1 :])
            break
        if not a.startswith("-") or a == "-":
            positionals.append(a)
            i += 1
            continue
        name, inline = a, None
        if a.startswith("--") and "=" in a:
            name, inline = a.split("=", 1)
        name = ALIASES.get(name, name)
        if name not in OPTS:
            raise Usage(f"error: unknown option '{a}'\n")
        kind, meta, choices = OPTS[name]
        label = f"'{name} {meta}'" if name != "--allowedTools" else f"'--allowedTools, {meta}'"
        i += 1
        if kind == "flag":
            values[name] = ["true"]
            continue
        got: list[str] = []
        if inline is not None:
            got.append(inline)
        if kind == "variadic" or (inline is None and kind != "flag"):
            while i < len(args) and not args[i].startswith("-"):
                got.append(args[i])
                i += 1
                if kind != "variadic":
                    break
        if not got:
            if kind == "optional":
                values[name] = [""]
                continue
            raise Usage(f"error: option {label} argument missing\n")
        for v in got:
            if choices and v not in choices:
                raise Usage(
                    f"error: option {label} argument '{v}' is invalid. Allowed choices are "
                    f"{', '.join(choices)}.\n"
                )
        if kind == "variadic":
            values.setdefault(name, []).extend(got)
        else:
            values[name] = got
    return values, positionals


def one(values: dict, name: str) -> str | None:
    return values.get(name, [None])[-1]


def reset_text() -> str:
    """The bundle's Vee(): "3pm (TZ)" / "3:30pm (TZ)" within 24 h, else "Nov 22, 3pm (TZ)"."""
    secs = float(os.environ.get("FAKE_USAGE_RESET_SECONDS", "3600"))
    reset = dt.datetime.now() + dt.timedelta(seconds=secs)
    clock = f"{reset.hour % 12 or 12}"
    if reset.minute:
        clock += f":{reset.minute:02d}"
    clock += "am" if reset.hour < 12 else "pm"
    if secs > 24 * 3600:
        clock = f"{reset:%b} {reset.day}, {clock}"
    return f"{clock} ({os.environ.get('TZ') or 'UTC'})"


def find_directive(prompt: str) -> tuple[str, str]:
    task = prompt.split("## The task", 1)[-1]
    words = "Create|Nothing|Fail|MaxTurns|Crash|Hang|UsageLimit|Garbage|Approve|RequestChanges"
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
    return "Review done.\n\n```json\n" + json.dumps(obj) + "\n```"


def usage_block(inp: int, out: int) -> dict:
    return {
        "input_tokens": inp,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": inp // 2,
        "output_tokens": out,
        "server_tool_use": {"web_search_requests": 0, "web_fetch_requests": 0},
        "service_tier": "standard",
        "cache_creation": {"ephemeral_1h_input_tokens": 0, "ephemeral_5m_input_tokens": 0},
        "inference_geo": "",
        "iterations": [],
        "speed": "standard",
    }


def result_obj(
    session_id: str,
    started: float,
    *,
    is_error: bool,
    text: str | None,
    subtype: str = "success",
    turns: int = 1,
    cost: float = 0.0,
    tokens=(0, 0),
    api_error_status: int | None = None,
) -> dict:
    obj: dict = {
        "type": "result",
        "subtype": subtype,
        "is_error": is_error,
        "api_error_status": api_error_status,
        "duration_ms": int((time.time() - started) * 1000),
        "duration_api_ms": int((time.time() - started) * 800),
        "num_turns": turns,
    }
    if text is not None:
        obj["result"] = text
    else:  # error subtypes carry `errors` instead of `result`
        obj["errors"] = ["The fake claude failed on purpose."]
    obj.update(
        {
            "stop_reason": "stop_sequence" if is_error else "end_turn",
            "session_id": session_id,
            "total_cost_usd": cost,
            "usage": usage_block(*tokens),
            "modelUsage": {},
            "permission_denials": [],
            "terminal_reason": "completed",
            "fast_mode_state": "off",
            "uuid": str(uuid.uuid4()),
        }
    )
    return obj


def emit(fmt: str, obj: dict, cwd: str, extra_error: str | None = None) -> None:
    if fmt == "text":
        print(obj.get("result", "Error: " + "; ".join(obj.get("errors", []))))
        return
    if fmt == "json":
        print(json.dumps(obj, ensure_ascii=False, separators=(",", ":")))
        return
    sid = obj["session_id"]
    init = {
        "type": "system",
        "subtype": "init",
        "cwd": cwd,
        "session_id": sid,
        "tools": ["Bash", "Edit", "Read", "Write"],
        "mcp_servers": [],
        "model": "claude-opus-4-8[1m]",
        "permissionMode": "default",
        "apiKeySource": "none",
        "claude_code_version": "2.1.197",
        "uuid": str(uuid.uuid4()),
    }
    message = {
        "id": str(uuid.uuid4()),
        "model": "<synthetic>",
        "role": "assistant",
        "type": "message",
        "stop_reason": obj["stop_reason"],
        "usage": obj["usage"],
        "content": [{"type": "text", "text": obj.get("result", "")}],
    }
    assistant = {
        "type": "assistant",
        "message": message,
        "parent_tool_use_id": None,
        "session_id": sid,
        "uuid": str(uuid.uuid4()),
    }
    if extra_error:
        assistant["error"] = extra_error
    for line in (init, assistant, obj):
        print(json.dumps(line, ensure_ascii=False, separators=(",", ":")))


def sessions_file() -> Path | None:
    d = os.environ.get("FAKE_AGENT_STATE")
    return Path(d) / "claude-sessions.jsonl" if d else None


def main() -> int:
    started = time.time()
    args = sys.argv[1:]
    if args in (["--version"], ["-v"]):
        print(VERSION)
        return 0
    try:
        values, positionals = parse(args)
    except Usage as e:
        sys.stderr.write(str(e))
        write_log()
        return 1
    if "--print" not in values:
        print("fake claude: only print mode (-p) is modelled", file=sys.stderr)
        write_log()
        return 3
    stdin = "" if sys.stdin.isatty() else sys.stdin.read()
    _log["stdin_len"] = len(stdin)
    write_log()
    prompt = "\n".join([stdin, *positionals]).strip() if positionals else stdin
    fmt = one(values, "--output-format") or "text"
    if fmt == "stream-json" and "--verbose" not in values:
        print(
            "Error: When using --print, --output-format=stream-json requires --verbose",
            file=sys.stderr,
        )
        return 1
    cwd = os.getcwd()
    resume = one(values, "--resume")
    sf = sessions_file()
    if resume is not None:
        if not re.fullmatch(
            r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", resume
        ):
            msg = (
                "Error: --resume requires a valid session ID or session title when used with "
                "--print. Usage: claude -p --resume <session-id|title>"
            )
            if resume:
                msg += (
                    f'. Provided value "{resume}" is not a UUID and does not match any '
                    "session title."
                )
            print(msg, file=sys.stderr)
            return 1
        if sf is not None:
            known = sf.read_text().splitlines() if sf.exists() else []
            if json.dumps({"cwd": cwd, "id": resume}) not in known:
                print(f"No conversation found with session ID: {resume}", file=sys.stderr)
                return 1
    if not prompt.strip():
        print(
            "Error: Input must be provided either through stdin or as a prompt argument when "
            "using --print",
            file=sys.stderr,
        )
        return 1
    session_id = resume or one(values, "--session-id") or str(uuid.uuid4())
    if sf is not None:
        with sf.open("a") as f:
            f.write(json.dumps({"cwd": cwd, "id": session_id}) + "\n")

    if os.environ.get("FAKE_CLAUDE_LOGGED_IN", "1") == "0":
        obj = result_obj(session_id, started, is_error=True, text=NOT_LOGGED_IN)
        emit(fmt, obj, cwd, extra_error="authentication_failed")
        return 1

    verb, rest = find_directive(prompt)
    tokens = (len(prompt) // 4 + 1000, 250)
    cost = round(tokens[0] * 3e-6 + tokens[1] * 15e-6, 6)

    def done(text: str, turns: int = 3) -> int:
        emit(
            fmt,
            result_obj(
                session_id,
                started,
                is_error=False,
                text=text,
                turns=turns,
                cost=cost,
                tokens=tokens,
            ),
            cwd,
        )
        return 0

    if verb == "Hang":
        subprocess.Popen(["sleep", "3600"])
        time.sleep(3600)
        return 0
    if verb == "Fail":
        emit(
            fmt,
            result_obj(
                session_id,
                started,
                is_error=True,
                text=None,
                subtype="error_during_execution",
                cost=cost,
                tokens=tokens,
            ),
            cwd,
        )
        return 1
    if verb == "MaxTurns":
        turns = int(one(values, "--max-turns") or 10)
        emit(
            fmt,
            result_obj(
                session_id,
                started,
                is_error=True,
                text=None,
                subtype="error_max_turns",
                turns=turns + 1,
                cost=cost,
                tokens=tokens,
            ),
            cwd,
        )
        return 1
    if verb == "UsageLimit":
        text = f"You've hit your session limit · resets {reset_text()}"
        emit(
            fmt,
            result_obj(session_id, started, is_error=True, text=text, api_error_status=429),
            cwd,
            extra_error="rate_limit",
        )
        return 1
    if verb == "Crash":
        sys.stderr.write("TypeError: fake crash\n    at <anonymous> (claude:1:1)\n")
        sys.stderr.flush()
        os._exit(1)
    if verb == "Garbage":
        size = int(os.environ.get("FAKE_GARBAGE_BYTES", str(3 * 1024 * 1024)))
        sys.stdout.write('{"type":"result","is_error":\n')
        line = "garbage " * 15 + "\n"
        sys.stdout.write(line * (size // len(line) + 1))
        return 0
    if verb in ("Approve", "RequestChanges"):
        return done(verdict(verb))
    if verb == "Create" and rest:
        rel = rest.split()[0].strip("`")
        target = Path(rel)
        target.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha1(prompt.encode()).hexdigest()[:8]
        target.write_text(f"Create {rest}\nprompt {digest}\n")
        return done(f"Created {rel}.")
    if verb == "Nothing":
        return done("I looked and decided nothing needs changing.", turns=1)
    return done("No directive found; I did nothing.", turns=1)


if __name__ == "__main__":
    sys.exit(main())
