"""Verdicts in plain words, before a fix and after it (see stats for the reasoning)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from supervisor.reproduce.stats import interval, pct, rules_out, runs_to_rule_out
from supervisor.reproduce.stress import DETERMINISTIC_AFTER, Decide, Measurement, Outcome

MAX_PLANNED = 5000  # a rate so low that more runs than this are needed is not worth the night


@dataclass(frozen=True)
class Verdict:
    verdict: str
    words: str
    accepted: bool | None = None  # after a fix: does the candidate pass?
    planned: int | None = None  # after a fix: the runs that prove it

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"verdict": self.verdict, "words": self.words}
        if self.accepted is not None:
            out["accepted"] = self.accepted
        if self.planned is not None:
            out["planned"] = self.planned
        return out


def _deterministic(outcomes: list[Outcome]) -> bool:
    return len(outcomes) >= DETERMINISTIC_AFTER and all(not o.ok for o in outcomes)


def before_decider() -> Decide:
    """Stop as soon as the first runs all failed: a deterministic failure needs no 60 runs."""
    return lambda outcomes: (
        _deterministic(outcomes[:DETERMINISTIC_AFTER]) and len(outcomes) == DETERMINISTIC_AFTER
    )


def before(m: Measurement) -> Verdict:
    k, n = m.failures, m.runs
    cut = {"budget": " (the time budget ran out)", "stopped": " (stopped)"}.get(m.ended, "")
    if n == 0:
        return Verdict("not_run", f"no run finished{cut}")
    if k == n and n >= DETERMINISTIC_AFTER:
        return Verdict(
            "deterministic",
            f"fails every time: {k} of {n} runs failed: a deterministic failure, not a flaky test",
        )
    if k:
        low, high = interval(k, n)
        return Verdict(
            "reproduced",
            f"reproduced: {k} of {n} runs failed ({pct(k / n)}, 95% CI {pct(low)}-{pct(high)})"
            + cut,
        )
    bound = pct(rules_out(n), up=True)
    return Verdict(
        "not_reproduced", f"not reproduced in {n} runs: rate below {bound} with 95% confidence{cut}"
    )


def plan(before_figures: dict[str, Any] | None) -> tuple[float, int] | None:
    """(the rate to rule out, the passing runs that rule it out), or None: nothing to compare."""
    if not before_figures or not before_figures.get("failures"):
        return None
    rate = before_figures["failures"] / before_figures["runs"]
    target = rate / 2
    return target, min(MAX_PLANNED, runs_to_rule_out(target))


def after_decider(planned: int) -> Decide:
    """Stop at the first failure (still flaky) or when the planned runs all passed."""
    return lambda outcomes: any(not o.ok for o in outcomes) or len(outcomes) >= planned


def after(before_figures: dict[str, Any] | None, m: Measurement) -> Verdict:
    k, n = m.failures, m.runs
    planned = plan(before_figures)
    if planned is None:
        seen = f"{k} of {n} runs failed after the fix" + (
            f" (rate below {pct(rules_out(n))} with 95% confidence)" if n and not k else ""
        )
        return Verdict(
            "unproven" if not k else "still_flaky",
            "the failure was not reproduced before the fix, so these runs cannot show an "
            f"improvement; {seen}",
            accepted=not k,
        )
    target, runs = planned
    was = pct(before_figures["failures"] / before_figures["runs"]) if before_figures else "?"
    if k:
        return Verdict(
            "still_flaky",
            f"still flaky: {k} of {n} runs failed after the fix (before: {was})",
            accepted=False,
            planned=runs,
        )
    if n >= runs:
        return Verdict(
            "fixed",
            f"fixed: 0 of {n} runs failed after the fix, so its failure rate is below "
            f"{pct(target, up=True)} (half of the {was} before) with 95% confidence",
            accepted=True,
            planned=runs,
        )
    return Verdict(
        "inconclusive",
        f"inconclusive: 0 of {n} runs failed after the fix, which rules out only rates above "
        f"{pct(rules_out(n), up=True) if n else '100%'}; {runs} passing runs were needed to "
        f"show it is below {pct(target)} (half of the {was} before)",
        accepted=False,
        planned=runs,
    )
