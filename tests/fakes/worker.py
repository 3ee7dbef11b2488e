#!/usr/bin/env python3
"""A scripted fake worker for the tests: a real executable driven through the command adapter.

It reads the prompt on stdin (as the real CLIs do) and acts on the first directive it finds in the
task text, so a test scripts its behaviour by what the task says:

  Create PATH              write PATH (content: the task text) and exit 0
  Append TEXT to PATH      append a line to PATH
  Fail                     print to stderr, exit 1
  Nothing                  change nothing, exit 0
  Hang                     sleep forever (spawning a grandchild that sleeps too)
  Selfcommit PATH          write PATH and `git commit` it itself
  Flaky PATH               fail on the first attempt (no feedback in the prompt), then Create PATH

A pull request's review round (the prompt's "## The feedback to address") is searched for a
directive first, so a reviewer scripts the next change ("Append x to f"). FAKE_WORKER_DEFAULT is
the directive when the prompt has none (a CI item's prompt is the supervisor's own words).

FAKE_WORKER_SLEEP (seconds) delays every run, so a test can kill the supervisor mid-run.
FAKE_WORKER_LOG, when set, gets one line per run: "<item id> <role>".
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import time
from pathlib import Path


def main() -> int:
    prompt = sys.stdin.read()
    if os.environ.get("FAKE_WORKER_LOG"):
        with open(os.environ["FAKE_WORKER_LOG"], "a") as f:
            f.write(f"{os.environ.get('SUPERVISOR_ITEM_ID')} {os.environ.get('SUPERVISOR_ROLE')}\n")
    delay = float(os.environ.get("FAKE_WORKER_SLEEP", "0"))
    if delay:
        time.sleep(delay)
    directive = re.compile(r"\b(Create|Append|Fail|Nothing|Hang|Selfcommit|Flaky)\b(.*)")
    feedback = prompt.split("## The feedback to address", 1)[1:]
    task = prompt.split("## The task", 1)[-1]
    m = (
        (feedback and directive.search(feedback[0].split("## What you must know")[0]))
        or directive.search(task)
        or directive.search(os.environ.get("FAKE_WORKER_DEFAULT", ""))
    )
    if not m:
        print("no directive in the task", file=sys.stderr)
        return 3
    verb, rest = m.group(1), m.group(2).strip()
    if verb == "Fail":
        print("the fake worker failed on purpose", file=sys.stderr)
        return 1
    if verb == "Nothing":
        print("I looked and decided nothing needs changing.")
        return 0
    if verb == "Hang":
        subprocess.Popen(["sleep", "3600"])
        time.sleep(3600)
        return 0
    if verb == "Flaky" and "What the previous attempt got wrong" not in prompt:
        print("flaky failure on the first attempt", file=sys.stderr)
        return 1
    if verb == "Append":
        text, path = re.match(r"(.*) to (\S+)", rest).groups()  # type: ignore[union-attr]
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        with p.open("a") as f:
            f.write(text.strip("`") + "\n")
        print(f"appended to {p}")
        return 0
    path = Path(rest.split()[0].strip("`"))
    path.parent.mkdir(parents=True, exist_ok=True)
    # What it writes depends on the whole prompt, so that a retry with feedback changes the file.
    digest = hashlib.sha1(prompt.encode()).hexdigest()[:8]
    path.write_text(f"{verb} {rest}\nprompt {digest}\n")
    if verb == "Selfcommit":
        subprocess.run(["git", "add", "-A"], check=True)
        subprocess.run(["git", "commit", "-qm", "worker commit"], check=True)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
