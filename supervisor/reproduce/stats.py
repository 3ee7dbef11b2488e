"""The statistics of a flaky test: a failure rate with an exact interval, and what runs prove.

Runs are Bernoulli trials. The interval is Clopper-Pearson's (exact: built from the binomial
distribution, never narrower than the truth); bounds are found by bisection on the binomial CDF,
so nothing beyond the standard library is needed.

Before a fix, a reproduction says "k of n runs failed (rate, 95% CI low-high)", or, with no
failure, "below X% with 95% confidence" (the one-sided bound: 0 failures in 59 runs rule out 5%).

After a fix, the candidate must show that its failure rate is below half the rate measured before,
with 95% confidence. With no failure allowed that takes n runs with (1 - p0/2)^n <= 0.05, planned
from the measured rate p0 before the first run; the first failure ends it (still flaky), and n
passing runs accept it. So a candidate that only halves the flakiness is accepted at most 5% of the
time, and a real fix of a test that failed 20% of the time is accepted in 29 runs.
"""

from __future__ import annotations

import math
from collections.abc import Callable

CONFIDENCE = 0.95


def binom_cdf(k: int, n: int, p: float) -> float:
    """P(X <= k) for X ~ Binomial(n, p)."""
    if k < 0:
        return 0.0
    if k >= n or p <= 0.0:
        return 1.0
    if p >= 1.0:
        return 0.0
    lp, lq = math.log(p), math.log1p(-p)
    total = 0.0
    for i in range(k + 1):
        total += math.exp(
            math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * lp + (n - i) * lq
        )
    return min(1.0, total)


def _bisect(f: Callable[[float], float], target: float, increasing: bool) -> float:
    lo, hi = 0.0, 1.0
    for _ in range(60):
        mid = (lo + hi) / 2
        value = f(mid)
        if (value < target) == increasing:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def upper_bound(k: int, n: int, alpha: float) -> float:
    """The p above which k or fewer failures in n runs has probability below alpha."""
    if n == 0 or k >= n:
        return 1.0
    if k == 0:
        return 1.0 - float(alpha ** (1.0 / n))
    return _bisect(lambda p: binom_cdf(k, n, p), alpha, increasing=False)


def lower_bound(k: int, n: int, alpha: float) -> float:
    """The p below which k or more failures in n runs has probability below alpha."""
    if n == 0 or k == 0:
        return 0.0
    if k >= n:
        return float(alpha ** (1.0 / n))
    return _bisect(lambda p: 1.0 - binom_cdf(k - 1, n, p), alpha, increasing=True)


def interval(k: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The two-sided Clopper-Pearson interval of the failure rate."""
    alpha = (1.0 - confidence) / 2
    return lower_bound(k, n, alpha), upper_bound(k, n, alpha)


def rules_out(n: int, confidence: float = CONFIDENCE) -> float:
    """The rate that n runs without a failure rule out (one-sided)."""
    return upper_bound(0, n, 1.0 - confidence)


def runs_to_rule_out(rate: float, confidence: float = CONFIDENCE) -> int:
    """The fewest runs without a failure that show the rate is below `rate`."""
    if rate <= 0.0:
        raise ValueError("a rate of 0 cannot be ruled out by any number of runs")
    if rate >= 1.0:
        return 1
    return max(1, math.ceil(math.log(1.0 - confidence) / math.log1p(-rate)))


def pct(x: float, up: bool = False) -> str:
    """A rate in words: 12%, 4.8%, 0.49%. up: rounded up, for a "below X" claim to stay true."""
    x *= 100
    digits = 0 if x == 0 or x >= 10 else 1 if x >= 1 else 2
    scale = 10**digits
    x = (math.ceil(x * scale - 1e-9) if up else round(x * scale)) / scale
    text = f"{x:.{digits}f}"
    return (text.rstrip("0").rstrip(".") if "." in text else text) + "%"
