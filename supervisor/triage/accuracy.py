"""Scoring extraction against labelled cases (dev.jsonl): test-name recall and precision, and
whether infrastructure cases come out as infra.

A case counts for the name figures when it names tests and every one of them appears in its log
text (a name given as `Suite.Test` may appear as `Suite/Test` and the other way round). An
expected name is found when the extractor gives the same full name, or, for a top-level name, a
subtest of it; an extracted name is right when it is an expected name or a subtest of an
expected top-level one. Extracted package- or log-level failures (no test name) are not counted.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from supervisor.triage.extract import extract
from supervisor.triage.model import Failure


def canon(name: str) -> str:
    return name.strip().replace(".", "/")


def names(case: dict[str, object]) -> list[str]:
    tests = case.get("tests")
    return [str(t) for t in tests] if isinstance(tests, list) else []


def named_in_log(case: dict[str, object]) -> bool:
    tests = names(case)
    log = str(case.get("log") or "")
    return bool(tests) and all(
        t in log or t.replace(".", "/") in log or t.replace("/", ".") in log for t in tests
    )


def found(expected: str, got: Iterable[str]) -> bool:
    e = canon(expected)
    return any(g == e or ("/" not in e and g.startswith(e + "/")) for g in map(canon, got))


def right(extracted: str, expected: Iterable[str]) -> bool:
    x = canon(extracted)
    return any(x == e or ("/" not in e and x.startswith(e + "/")) for e in map(canon, expected))


@dataclass
class CaseResult:
    source: str
    label: str
    expected: list[str]
    got: list[str]
    kinds: list[str]
    counted: bool
    missed: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)


@dataclass
class Score:
    cases: list[CaseResult]

    def _counted(self) -> list[CaseResult]:
        return [c for c in self.cases if c.counted]

    @property
    def expected(self) -> int:
        return sum(len(c.expected) for c in self._counted())

    @property
    def hits(self) -> int:
        return sum(len(c.expected) - len(c.missed) for c in self._counted())

    @property
    def extracted(self) -> int:
        return sum(len(c.got) for c in self._counted())

    @property
    def correct(self) -> int:
        return sum(len(c.got) - len(c.wrong) for c in self._counted())

    @property
    def recall(self) -> float:
        return self.hits / self.expected if self.expected else 1.0

    @property
    def precision(self) -> float:
        return self.correct / self.extracted if self.extracted else 1.0

    @property
    def infra_cases(self) -> list[CaseResult]:
        return [c for c in self.cases if c.label == "infra"]

    @property
    def infra_found(self) -> int:
        return sum(1 for c in self.infra_cases if "infra" in c.kinds)


def score_case(case: dict[str, object]) -> CaseResult:
    failures: list[Failure] = extract(io.BytesIO(str(case.get("log") or "").encode()))
    expected = names(case)
    got = list(dict.fromkeys(f.test for f in failures if f.test))
    res = CaseResult(
        str(case.get("source", "")),
        str(case.get("kind_label", "")),
        expected,
        got,
        [f.kind for f in failures],
        named_in_log(case),
    )
    res.missed = [e for e in expected if not found(e, got)]
    res.wrong = [g for g in got if not right(g, expected)]
    return res


def score_file(path: Path) -> Score:
    cases = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
    return Score([score_case(c) for c in cases])
