#!/usr/bin/env python3
"""A scripted example worker for the quickstart. It is NOT an AI and says so.

It shows the command-adapter contract that any agent follows: the prompt arrives on stdin (and in
$SUPERVISOR_PROMPT_FILE), the current directory is the item's issue worktree, and whatever it prints
is its final message. It understands two literal instructions in a task's text, nothing else:

    Create `PATH` with `TEXT`
    Append `TEXT` to `PATH`

For real work, configure a real agent (see README: agents.worker).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

CREATE = re.compile(r"Create `([^`]+)` with `([^`]*)`")
APPEND = re.compile(r"Append `([^`]*)` to `([^`]+)`")


def main() -> int:
    task = sys.stdin.read().split("## The task", 1)[-1]
    if m := CREATE.search(task):
        path, text = Path(m.group(1)), m.group(2)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n" if text else "")
        print(f"example worker (not an AI): created {path}")
        return 0
    if m := APPEND.search(task):
        text, path = m.group(1), Path(m.group(2))
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as f:
            f.write(text + "\n")
        print(f"example worker (not an AI): appended a line to {path}")
        return 0
    print("example worker (not an AI): this task is not one I can follow", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
