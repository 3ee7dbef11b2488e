#!/usr/bin/env python3
"""A scripted fake analyst for the tests, run through the command adapter like any agent.

It reads the prompt on stdin and answers like an analyst would: an analysis (three parts) when
asked for one, otherwise a reply to the comment the prompt quotes last. A comment that says
"thanks" gets NO_REPLY. FAKE_ANALYST_FAIL=1 makes it fail (exit 1); FAKE_ANALYST_LOG, when set,
gets one line per run: "<item id> analysis|reply".
"""

from __future__ import annotations

import os
import re
import sys


def main() -> int:
    prompt = sys.stdin.read()
    asked = "reply" if "## The comment to answer" in prompt else "analysis"
    if os.environ.get("FAKE_ANALYST_LOG"):
        with open(os.environ["FAKE_ANALYST_LOG"], "a") as f:
            f.write(f"{os.environ.get('SUPERVISOR_ITEM_ID')} {asked}\n")
    if os.environ.get("FAKE_ANALYST_FAIL"):
        print("the fake analyst failed on purpose", file=sys.stderr)
        return 1
    if asked == "analysis":
        test = re.search(r"^`(\w+)` in `([^`]*)`", prompt, re.M)
        name = test.group(1) if test else "the test"
        print(
            f"1. **How to reproduce**: `go test -run '^{name}$' -race -count=50`.\n"
            "2. **Likely root cause**: the test waits for a condition with a fixed deadline.\n"
            "3. **Suggested fix**: wait for the event the condition depends on."
        )
        return 0
    comment = prompt.split("## The comment to answer", 1)[-1].split("## Your answer", 1)[0]
    if "thanks" in comment.lower():
        print("NO_REPLY")
        return 0
    who = re.search(r"From @(\S+)", comment)
    print(
        f"The failure points at the wait in the test (asked by {who.group(1) if who else '?'}); "
        "running it with -race shows it."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
