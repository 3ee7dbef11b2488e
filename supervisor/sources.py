"""Where work comes from: a spec file of tasks and labelled forge issues.

A task is an unchecked ``- [ ] text`` line of the spec file at the tip of the base branch (read
from the mirror, never from anyone's working tree). Its item id is derived from its text, so the
same line found again is the same item; the supervisor checks the line off (``- [x]``) in the same
commit as the change that completes it, so it is checked off exactly when the change merges.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from supervisor.forge.base import Forge
from supervisor.ids import IssueNumber, ItemId

_TASK = re.compile(r"^(?P<indent>\s*)[-*]\s+\[ \]\s+(?P<text>\S.*?)\s*$")
_CHECKED = re.compile(r"^\s*[-*]\s+\[[xX]\]\s+")
MARKER_PREFIX = "<!-- supervisor:"


@dataclass(frozen=True)
class Candidate:
    id: ItemId
    kind: str  # task | issue
    title: str
    body: str
    source: dict[str, str]
    issue: IssueNumber | None = None


def task_id(text: str) -> ItemId:
    norm = " ".join(text.split())
    return ItemId("task-" + hashlib.sha1(norm.encode()).hexdigest()[:10])


def parse_tasks(text: str, file: str) -> list[Candidate]:
    """Unchecked tasks, with their indented continuation lines as the body; duplicates once."""
    lines = text.splitlines()
    out: dict[str, Candidate] = {}
    for i, line in enumerate(lines):
        m = _TASK.match(line)
        if not m:
            continue
        indent = len(m.group("indent"))
        body = [m.group("text")]
        for nxt in lines[i + 1 :]:
            stripped = nxt.strip()
            if not stripped:
                continue
            if len(nxt) - len(nxt.lstrip()) <= indent or _TASK.match(nxt) or _CHECKED.match(nxt):
                break
            body.append(stripped)
        text_ = m.group("text")
        cid = task_id(text_)
        if cid not in out:
            out[cid] = Candidate(
                cid,
                "task",
                text_[:200],
                "\n".join(body),
                {"type": "tasks", "file": file, "text": text_},
            )
    return list(out.values())


def check_off(text: str, task_text: str) -> str | None:
    """The spec text with the task's line checked; None when the line is not there unchecked."""
    lines = text.splitlines(keepends=True)
    for i, line in enumerate(lines):
        m = _TASK.match(line.rstrip("\r\n"))
        if m and " ".join(m.group("text").split()) == " ".join(task_text.split()):
            lines[i] = re.sub(r"\[ \]", "[x]", line, count=1)
            return "".join(lines)
    return None


def labelled_issues(forge: Forge, label: str, conditional: bool = True) -> list[Candidate]:
    """Open forge issues with the label, except the supervisor's own (they carry its marker).

    conditional: ask only for changes since the last call (none when nothing changed).
    """
    found = forge.list_issues_if_changed(label) if conditional else forge.list_issues(label)
    out = []
    for issue in found or []:
        if MARKER_PREFIX in issue.body:
            continue
        out.append(
            Candidate(
                ItemId(f"issue-{issue.number}"),
                "issue",
                issue.title,
                issue.body,
                {"type": "issues", "label": label, "author": issue.author},
                issue.number,
            )
        )
    return out
