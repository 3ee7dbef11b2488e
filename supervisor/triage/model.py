"""What triage produces: one Failure per failing test (or package, or build) found in a log."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

# The kinds of failure extraction tells apart.
KINDS = (
    "assertion",  # a testify Error block or a plain t.Error/t.Fatal line
    "wait_condition",  # testify Eventually/Never: "Condition never satisfied"
    "timeout",  # panic: test timed out after ...
    "race",  # WARNING: DATA RACE / race detected during execution of test
    "leak",  # goleak: found unexpected goroutines (fails the package after passing)
    "panic",  # a test panicked (not a timeout)
    "build",  # the package (or a dependency) did not compile
    "infra",  # the runner, network, disk, OOM, cancellation: not the code
    "fail",  # a failure with no more specific kind found
)
CATEGORIES = ("flaky", "regression", "infra", "unknown")


@dataclass
class Failure:
    test: str  # full Go name: TestSuite/TestCase for subtests; "" for a package-level failure
    package: str  # import path (or the runner's package path) when known, else ""
    kind: str  # one of KINDS
    signature: str  # the failure's normalized key lines (no times, addresses, paths, ports)
    excerpt: str  # the log lines that show the failure, bounded
    line: int = 0  # 1-based line in the log where the failure's evidence starts
    fingerprint: str = ""  # filled by fingerprint.fingerprint()
    category: str = ""  # filled by classify.classify(): one of CATEGORIES
    reasons: list[str] = field(default_factory=list)  # why that category

    def to_json(self) -> dict[str, Any]:
        """The documented `supervisor triage --json` shape for one failure."""
        d = asdict(self)
        return {
            k: d[k]
            for k in (
                "test",
                "package",
                "kind",
                "signature",
                "fingerprint",
                "category",
                "reasons",
                "excerpt",
            )
        }
