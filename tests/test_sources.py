"""Tasks from a spec file: unchecked lines, their bodies, stable ids, checking a line off."""

from __future__ import annotations

import hashlib

from supervisor.sources import check_off, parse_tasks, task_id

SPEC = (
    """\
# Tasks

- [ ] Add a --verbose flag
  It prints every command.
    Also the timings.

- [x] Write the README
* [ ] Support YAML output
- [X] Done in capitals
- [ ] Add a --verbose flag
Not part of any task.
"""
    + "- [ ]   Trim   spaces   \n"
)


def test_parse_tasks_finds_unchecked_lines() -> None:
    tasks = parse_tasks(SPEC, "tasks.md")
    assert [t.title for t in tasks] == [
        "Add a --verbose flag",
        "Support YAML output",
        "Trim   spaces",
    ]
    first = tasks[0]
    assert first.kind == "task"
    assert first.body == "Add a --verbose flag\nIt prints every command.\nAlso the timings."
    assert first.source == {"type": "tasks", "file": "tasks.md", "text": "Add a --verbose flag"}
    assert first.issue is None
    assert tasks[1].body == "Support YAML output"
    assert tasks[2].body == "Trim   spaces"


def test_continuation_stops_at_the_next_item_or_a_dedented_line() -> None:
    text = (
        "- [ ] Parent task\n"
        "  detail one\n"
        "  - [ ] Nested task\n"
        "    nested detail\n"
        "  - [x] nested done\n"
        "    done detail\n"
        "back at the margin\n"
        "  indented but after a dedent\n"
    )
    tasks = {t.title: t.body for t in parse_tasks(text, "t.md")}
    assert tasks == {
        "Parent task": "Parent task\ndetail one",
        "Nested task": "Nested task\nnested detail",
    }


def test_parse_tasks_with_crlf() -> None:
    tasks = parse_tasks("- [ ] one\r\n  more\r\n- [ ] two\r\n", "t.md")
    assert [(t.title, t.body) for t in tasks] == [("one", "one\nmore"), ("two", "two")]


def test_not_tasks() -> None:
    text = "-[ ] no space\n- [] empty box\n- [ ]\n+ [ ] plus\n1. [ ] numbered\n- [x] done\n"
    assert parse_tasks(text, "t.md") == []


def test_duplicates_once() -> None:
    tasks = parse_tasks("- [ ] Same\n* [ ] Same\n- [ ]  Same \n", "t.md")
    assert len(tasks) == 1


def test_ids_are_stable_and_whitespace_insensitive() -> None:
    a = task_id("Add a --verbose flag")
    assert a == task_id("Add  a\t--verbose   flag ")
    assert a == task_id("Add a --verbose flag")
    assert a.startswith("task-")
    assert len(a) == len("task-") + 10
    assert a != task_id("Add a --quiet flag")
    assert a == "task-" + hashlib.sha1(b"Add a --verbose flag").hexdigest()[:10]
    (t,) = parse_tasks("- [ ] Add a   --verbose flag\n", "t.md")
    assert t.id == a


def test_check_off_checks_exactly_that_line() -> None:
    out = check_off(SPEC, "Support YAML output")
    assert out == SPEC.replace("* [ ] Support YAML output", "* [x] Support YAML output")
    assert check_off(out, "Support YAML output") is None


def test_check_off_only_the_first_of_duplicates() -> None:
    out = check_off(SPEC, "Add  a --verbose flag")
    assert out is not None
    assert out.count("- [x] Add a --verbose flag") == 1
    assert out.count("- [ ] Add a --verbose flag") == 1
    assert out.index("- [x] Add a --verbose flag") < out.index("- [ ] Add a --verbose flag")


def test_check_off_absent_or_checked_is_none() -> None:
    assert check_off(SPEC, "Write the README") is None
    assert check_off(SPEC, "Done in capitals") is None
    assert check_off(SPEC, "Something else") is None
    assert check_off(SPEC, "Add a --verbose") is None
    assert check_off("", "x") is None


def test_check_off_keeps_crlf_and_other_lines() -> None:
    text = (
        "# T\r\n\r\n- [ ] one\r\n  body [ ] text\r\n- [ ] two [ ] box\r\nlast line without newline"
    )
    out = check_off(text, "two [ ] box")
    assert out == (
        "# T\r\n\r\n- [ ] one\r\n  body [ ] text\r\n- [x] two [ ] box\r\nlast line without newline"
    )
    out = check_off(text, "one")
    assert out == text.replace("- [ ] one", "- [x] one", 1)
    assert check_off("- [ ] last", "last") == "- [x] last"
