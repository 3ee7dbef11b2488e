#!/usr/bin/env python3
"""Extraction accuracy on the labelled development cases (../shared/data/ci-failures/dev.jsonl).

Prints test-name recall and precision over the cases whose expected test names appear in their
log, each case where a name was missed or a wrong one extracted (with the case's source URL),
and how many infra-labelled cases gave at least one failure of kind "infra".

    python scripts/triage_accuracy.py [--cases PATH] [-v]

Exit code 0 (it reports figures; the floors are checked by tests/test_extract.py), 2 when the
cases file is missing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from supervisor.triage.accuracy import score_file

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "ci-failures" / "dev.jsonl"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--cases", type=Path, default=DEFAULT, help=f"cases file (default {DEFAULT})")
    p.add_argument("-v", "--verbose", action="store_true", help="print every case")
    args = p.parse_args(argv)
    if not args.cases.exists():
        print(f"no cases file at {args.cases}", file=sys.stderr)
        return 2
    score = score_file(args.cases)
    counted = [c for c in score.cases if c.counted]
    print(
        f"cases: {len(score.cases)}, {len(counted)} with their test names in the log "
        f"({score.expected} names)"
    )
    print(f"recall:    {score.recall:6.1%}  ({score.hits}/{score.expected} expected names found)")
    right = f"{score.correct}/{score.extracted}"
    print(f"precision: {score.precision:6.1%}  ({right} extracted names right)")
    infra = f"{score.infra_found}/{len(score.infra_cases)}"
    print(f"infra:     {infra} infra-labelled cases gave a failure of kind infra")
    for c in score.cases:
        bad = c.counted and (c.missed or c.wrong)
        no_infra = c.label == "infra" and "infra" not in c.kinds
        if bad or no_infra or args.verbose:
            what = []
            if c.missed:
                what.append(f"missed {c.missed}")
            if c.wrong and c.counted:
                what.append(f"wrong {c.wrong}")
            if no_infra:
                what.append(f"infra case, kinds {c.kinds}")
            if args.verbose and not what:
                what.append(f"ok: {c.got} {c.kinds}")
            print(f"  {c.source}: {'; '.join(what)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
