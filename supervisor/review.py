"""The reviewer's verdict: one JSON object in its final message, validated; never assumed."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

_FENCED = re.compile(r"```(?:json)?\s*\n(.*?)\n\s*```", re.S)


class BadVerdict(ValueError):
    """The reviewer's answer did not contain a valid verdict: a failed review, never an approval."""


@dataclass(frozen=True)
class Verdict:
    verdict: str  # approve | request_changes
    score: float | None
    summary: str
    comments: list[dict[str, Any]] = field(default_factory=list)
    evidence: list[dict[str, Any]] = field(default_factory=list)

    @property
    def approved(self) -> bool:
        return self.verdict == "approve"


def parse_verdict(message: str) -> Verdict:
    candidates = [m.group(1) for m in _FENCED.finditer(message)]
    candidates += _raw_objects(message)
    errors = []
    for text in candidates:
        try:
            doc = json.loads(text)
        except ValueError as e:
            errors.append(f"not JSON ({e})")
            continue
        if isinstance(doc, dict) and "verdict" in doc:
            return _validate(doc)
    if not candidates:
        raise BadVerdict("the reviewer's answer contains no JSON object")
    raise BadVerdict(
        "no JSON object with a 'verdict' key in the reviewer's answer"
        + (f": {errors[0]}" if errors else "")
    )


def _raw_objects(text: str) -> list[str]:
    decoder = json.JSONDecoder()
    out = []
    i = text.find("{")
    while i != -1:
        try:
            _, end = decoder.raw_decode(text, i)
            out.append(text[i:end])
            i = text.find("{", end)
        except ValueError:
            i = text.find("{", i + 1)
    return out


def _validate(doc: dict[str, Any]) -> Verdict:
    verdict = doc.get("verdict")
    if verdict not in ("approve", "request_changes"):
        raise BadVerdict(f"verdict must be 'approve' or 'request_changes', not {verdict!r}")
    score = doc.get("score")
    if score is not None and (isinstance(score, bool) or not isinstance(score, int | float)):
        raise BadVerdict(f"score must be a number, not {score!r}")
    summary = doc.get("summary", "")
    if not isinstance(summary, str):
        raise BadVerdict("summary must be a string")
    lists: dict[str, list[dict[str, Any]]] = {}
    for key in ("comments", "evidence"):
        value = doc.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise BadVerdict(f"{key} must be a list of objects")
        lists[key] = value
    for c in lists["comments"]:
        if not isinstance(c.get("body", ""), str):
            raise BadVerdict("each comment needs a string body")
    return Verdict(verdict, score, summary, lists["comments"], lists["evidence"])
