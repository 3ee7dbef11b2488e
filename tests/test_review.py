"""The reviewer's verdict: one JSON object, validated; anything else is a failed review."""

from __future__ import annotations

import pytest

from supervisor.review import BadVerdict, Verdict, parse_verdict

FULL = (
    '{"verdict": "approve", "score": 8, "summary": "Fixes the race.", '
    '"comments": [{"path": "server/x.go", "line": 12, "body": "nit"}], '
    '"evidence": [{"test": "TestFoo", "command": "go test ./server -run \'^TestFoo$\'"}]}'
)


def test_a_raw_object() -> None:
    v = parse_verdict(FULL)
    assert v == Verdict(
        verdict="approve",
        score=8,
        summary="Fixes the race.",
        comments=[{"path": "server/x.go", "line": 12, "body": "nit"}],
        evidence=[{"test": "TestFoo", "command": "go test ./server -run '^TestFoo$'"}],
    )
    assert v.approved


def test_a_fenced_json_block() -> None:
    message = (
        "I read the diff.\n\n```json\n"
        '{\n  "verdict": "request_changes",\n  "summary": "The lock is taken twice."\n}\n'
        "```\n\nThanks."
    )
    v = parse_verdict(message)
    assert (v.verdict, v.summary, v.score, v.comments, v.evidence) == (
        "request_changes",
        "The lock is taken twice.",
        None,
        [],
        [],
    )
    assert not v.approved


def test_a_plain_fenced_block() -> None:
    v = parse_verdict('```\n{"verdict": "approve"}\n```')
    assert v.approved


def test_json_surrounded_by_prose() -> None:
    message = (
        "Looking at {the change} closely, here is my verdict: "
        '{"verdict": "approve", "score": 9.5, "summary": "ok"} -- end of review.'
    )
    v = parse_verdict(message)
    assert (v.verdict, v.score, v.summary) == ("approve", 9.5, "ok")


def test_an_object_without_verdict_is_skipped_for_the_one_with_it() -> None:
    message = 'Context: {"files": 3}\nVerdict: {"verdict": "request_changes", "summary": "no"}'
    assert parse_verdict(message).verdict == "request_changes"


@pytest.mark.parametrize(
    ("message", "error"),
    [
        ("Looks good to me, ship it!", "the reviewer's answer contains no JSON object"),
        ("", "the reviewer's answer contains no JSON object"),
        ("{verdict: approve}", "the reviewer's answer contains no JSON object"),
        (
            "```json\n{'verdict': 'approve'}\n```",
            "no JSON object with a 'verdict' key in the reviewer's answer: not JSON (",
        ),
        (
            '{"summary": "fine", "score": 9}',
            "no JSON object with a 'verdict' key in the reviewer's answer",
        ),
        (
            '["verdict", "approve"]',
            "the reviewer's answer contains no JSON object",
        ),
        (
            '{"verdict": "maybe"}',
            "verdict must be 'approve' or 'request_changes', not 'maybe'",
        ),
        ('{"verdict": "APPROVE"}', "verdict must be 'approve' or 'request_changes', not 'APPROVE'"),
        ('{"verdict": null}', "verdict must be 'approve' or 'request_changes', not None"),
        ('{"verdict": "approve", "score": "high"}', "score must be a number, not 'high'"),
        ('{"verdict": "approve", "score": true}', "score must be a number, not True"),
        ('{"verdict": "approve", "summary": 3}', "summary must be a string"),
        ('{"verdict": "approve", "comments": "fine"}', "comments must be a list of objects"),
        ('{"verdict": "approve", "comments": ["fine"]}', "comments must be a list of objects"),
        ('{"verdict": "approve", "evidence": {}}', "evidence must be a list of objects"),
        ('{"verdict": "approve", "comments": [{"body": 1}]}', "each comment needs a string body"),
    ],
)
def test_bad_answers_are_refused(message: str, error: str) -> None:
    with pytest.raises(BadVerdict) as info:
        parse_verdict(message)
    assert str(info.value).startswith(error)
    assert isinstance(info.value, ValueError)


def test_an_invalid_verdict_is_never_an_approval_even_beside_a_valid_one() -> None:
    # The first object with a verdict decides; a bad one fails the review.
    message = '{"verdict": "approve!!"}\n{"verdict": "approve"}'
    with pytest.raises(BadVerdict):
        parse_verdict(message)


def test_approved_property() -> None:
    assert Verdict("approve", None, "").approved is True
    assert Verdict("request_changes", 10, "").approved is False
