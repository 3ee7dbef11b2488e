"""The agent adapters' parsing: codex's JSONL events, claude's result, usage-limit resets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from supervisor.agents.claude import _result
from supervisor.agents.codex import read_events
from supervisor.agents.limits import DEFAULT_BACKOFF_S, usage_limit_reset


def test_codex_events_give_session_tokens_and_failure(tmp_path: Path) -> None:
    log = tmp_path / "agent.jsonl"
    events = [
        {"type": "thread.started", "thread_id": "th-1"},
        {"type": "turn.started"},
        {"type": "error", "message": "stream disconnected; retrying 1/5"},
        {"type": "item.completed", "item": {"type": "agent_message", "text": "hi"}},
        {"type": "brand.new.kind", "x": 1},
        {
            "type": "turn.completed",
            "usage": {"input_tokens": 10, "cached_input_tokens": 4, "output_tokens": 3},
        },
    ]
    log.write_bytes(b"\n".join(json.dumps(e).encode() for e in events) + b"\nnot json\n\xff\xfe\n")
    got = read_events(log)
    assert got["thread_id"] == "th-1" and got["failed"] is None
    assert got["tokens"] == {"input": 10, "output": 3, "cached_input": 4}
    assert got["errors"] == ["stream disconnected; retrying 1/5"]  # a retry, not the end
    assert got["parsed"] == 6
    log.write_text(json.dumps({"type": "turn.failed", "error": {"message": "boom"}}) + "\n")
    assert read_events(log)["failed"] == "boom"
    assert read_events(tmp_path / "missing.jsonl")["parsed"] == 0


def test_claude_result_is_found_even_with_noise(tmp_path: Path) -> None:
    out = tmp_path / "agent.jsonl"
    doc = {
        "type": "result",
        "subtype": "success",
        "is_error": True,
        "result": "Not logged in",
        "session_id": "s-1",
        "total_cost_usd": 0,
        "usage": {},
        "num_turns": 0,
    }
    out.write_text(json.dumps(doc))
    assert _result(out) == doc
    out.write_text("warning: something\n" + json.dumps(doc) + "\n")
    assert _result(out) == doc
    out.write_text("{not json")
    assert _result(out) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Claude AI usage limit reached|1767225600", 1767225600.0),
        ("You've hit your usage limit. Try again in 2 hours 30 minutes.", 1000.0 + 9000),
        ("You've hit your usage limit. Try again in 3 days.", 1000.0 + 3 * 86400),
        ("usage limit reached", 1000.0 + DEFAULT_BACKOFF_S),
        ("all good", None),
    ],
)
def test_usage_limit_resets(text: str, expected: float | None) -> None:
    assert usage_limit_reset(text, now=1000.0) == expected


def test_usage_limit_at_a_clock_time_is_the_next_such_time() -> None:
    from datetime import datetime

    now = datetime(2026, 11, 21, 3, 0).timestamp()
    reset = usage_limit_reset("You've hit your usage limit. Try again at 5:15 PM.", now=now)
    assert reset is not None
    at = datetime.fromtimestamp(reset)
    assert (at.hour, at.minute) == (17, 15) and reset > now


@pytest.mark.parametrize(
    "text",
    [
        "You've hit your usage limit. Try again at Nov 22nd, 2026 3:04 PM.",
        "You've hit your session limit · resets Nov 22, 3pm (UTC)",
        "You've hit your session limit · resets 3pm (UTC)",
    ],
)
def test_usage_limit_wordings_of_the_pinned_clis(text: str) -> None:
    from datetime import UTC, datetime

    now = datetime(2026, 11, 21, 16, 0, tzinfo=UTC).timestamp()
    reset = usage_limit_reset(text, now=now)
    assert reset is not None and reset > now
    assert reset - now < 2 * 86400 and reset != now + DEFAULT_BACKOFF_S


def test_only_the_codex_worker_may_write() -> None:
    from supervisor.agents import RunControl
    from supervisor.agents.codex import CodexAgent

    codex = CodexAgent(RunControl())
    wt, last = Path("/wt"), Path("/last.txt")
    for role, sandbox in (("worker", "workspace-write"), ("reviewer", "read-only")):
        argv = codex.argv(wt, last, None, role)
        assert argv[argv.index("--sandbox") + 1] == sandbox
    assert "read-only" in codex.argv(wt, last, "thread-1", "analyst")
