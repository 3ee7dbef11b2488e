"""Classification: is a failure flaky, a regression, infrastructure trouble, or unknown, and why.

The verdict combines what the log shows (the failure's kind and text) with what is known about
its history (`Signals`): a pass at the same commit, recurrence across base-branch commits, the
files the commit under test changed, the run's conclusion. Each rule below is a function that
either decides or passes; they run in order, most decisive evidence first, and every verdict
carries the sentences that led to it, for a maintainer to check.

Rules, in order (each rule's docstring says why): infra (first: a broken runner also "passes
on rerun"), build, pass and fail at the same commit, a human's word (info.json), recurrence
across base-branch commits, known timing-dependent signatures (unless contradicted), a
deterministic failure in code the commit touched, and else unknown, saying what is missing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from supervisor.triage.fingerprint import fingerprint, normalize, package_key
from supervisor.triage.model import Failure

RECURRENCE_MIN = 3  # distinct base-branch commits that make a recurring failure flaky alone
DETERMINISTIC_KINDS = ("assertion", "fail", "panic")
FLAKY_KINDS = {
    "wait_condition": "a wait helper gave up (Eventually/Never): the condition depends on timing",
    "timeout": "the test ran out of time: a hang or slowness that depends on the machine's load",
    "race": "a data race fires only on some interleavings of goroutines",
    "leak": "goroutines still running after the tests: shutdown timing, not an assertion",
}


@dataclass
class Signals:
    """What is known about a failing log beyond its text (all optional).

    sha: the commit under test. passed_at_same_sha: the same job (or workflow) passed at sha;
    passed_where says where ("a rerun", "workflow 'PD Test' on push"). passed_tests: test
    names seen passing at sha in another job. failed_attempt/passed_attempt: the job's attempts
    at sha. failed_shas: distinct base-branch commits where the failure was seen (for every
    failure of the log), failed_shas_by_fingerprint the same per fingerprint. touched_paths:
    files the commit changed (None when unknown, empty when none). run_conclusion/cancelled:
    the run's end. deterministic: a human's statement (info.json) that the failure reproduces.
    """

    sha: str = ""
    passed_at_same_sha: bool = False
    passed_where: str = ""
    passed_tests: frozenset[str] = frozenset()
    failed_attempt: int | None = None
    passed_attempt: int | None = None
    failed_shas: Sequence[str] = ()
    failed_shas_by_fingerprint: Mapping[str, Sequence[str]] = field(default_factory=dict)
    touched_paths: Sequence[str] | None = None
    run_conclusion: str = ""
    cancelled: bool = False
    deterministic: bool | None = None

    @property
    def was_cancelled(self) -> bool:
        return self.cancelled or self.run_conclusion.lower() in ("cancelled", "canceled")


@dataclass(frozen=True)
class Sign:
    """A recognisable text in a failure and what it means.

    group: of several signs of one group only the first that matches gives a reason. narrow:
    a common word (timeout, leader) that counts only in the failure's message, not in a struct
    dump or a long log line. environment_wide: it breaks the whole job, so it also explains
    the log's other failures.
    """

    pattern: re.Pattern[str]
    why: str
    group: str = ""
    narrow: bool = False
    environment_wide: bool = False


def _sign(
    pattern: str, why: str, group: str = "", *, narrow: bool = False, wide: bool = False
) -> Sign:
    return Sign(re.compile(pattern, re.IGNORECASE | re.MULTILINE), why, group, narrow, wide)


# The tables below are data: kept one sign to a few lines, unformatted, to be read as a list.
# fmt: off
INFRA_SIGNS = (
    _sign(r"no space left on device|disk quota exceeded|not enough space on the disk",
          "the runner's disk was full", wide=True),
    _sign(r"signal: killed|out of memory|OOMKilled|oom-kill|Killed process \d+|"
          r"cannot allocate memory|exit code 137",
          "the process was killed for memory (OOM killer)", wide=True),
    _sign(r"runner has received a shutdown signal|lost communication with the server|"
          r"hosted runner encountered an error|runner .{0,60}(?:did not|didn't) (?:respond|connect)"
          r"|maximum execution time|The (?:operation|job) was cancell?ed",
          "the runner was lost or the job was stopped from outside", wide=True),
    _sign(r"^go: .*(?:dial tcp|no such host|i/o timeout|TLS handshake|connection reset|"
          r"unexpected EOF|invalid pseudo-version|403 Forbidden|404 Not Found|410 Gone|"
          r"checksum mismatch|reading https?://)|@v[^\s:]{0,80}: (?:Get|reading) \"?https?://|"
          r"(?:proxy\.golang\.org|goproxy)[^\n]{0,200}?(?:dial tcp|no such host|timeout|EOF)",
          "Go modules could not be downloaded (network or module proxy)", wide=True),
    _sign(r"fatal: early EOF|fetch-pack: unexpected disconnect|index-pack failed|RPC failed; "
          r"curl|fatal: unable to access 'https?://|Could not resolve host",
          "a git transfer failed (network)", wide=True),
    _sign(r"toomanyrequests|pull rate limit|API rate limit exceeded|"
          r"Unable to (?:download|resolve) action|Failed to download action",
          "a registry or GitHub refused or limited the runner", wide=True),
    _sign(r"bind: address already in use",
          "port collision: another process on the runner held the port; the environment, "
          "not the assertion"),
    _sign(r"command not found|No rule to make target",
          "a tool or make target the job needs is missing"),
)
# Only meaningful outside any test: the job's own tooling, not the code under test.
TOOLING_SIGN = _sign(r"no such file or directory|permission denied",
                     "a file the job's tooling needs is missing or unreadable, outside any test")

FLAKY_SIGNS = (
    _sign(r"Condition never satisfied|Error:\s+Condition satisfied",
          "from a wait helper (testify Eventually/Never, pd's testutil.Eventually): "
          "timing-dependent", "timing"),
    _sign(r"timed out waiting for the condition|condition failed to evaluate|"
          r"wait(?:ing)? for .{0,60}timed? ?out",
          "a polling wait gave up: timing-dependent", "timing"),
    _sign(r"test timed out after", "the test ran out of time: a hang or slowness that depends "
          "on the machine's load", "timing"),
    _sign(r"deadline exceeded|DeadlineExceeded|\btimed? ?out\b|\btimeout\b|took too long|"
          r"too slow|\b(?:delay(?:ed)?|latency|elapsed|took)\b.{0,80}\b(?:threshold|longer than|"
          r"exceed)", "a time limit was hit: depends on the machine's load", "timing",
          narrow=True),
    _sign(r"DATA RACE|race detected during execution of test",
          "a data race fires only on some goroutine interleavings", "race"),
    _sign(r"found unexpected goroutines|goleak|leaked goroutine",
          "leaked goroutines: shutdown timing of background work", "leak"),
    _sign(r"connection refused|connection reset by peer|transport is closing|"
          r"client connection is closing",
          "a connection to a server of the test was refused or dropped: startup/shutdown timing",
          "network"),
    _sign(r"broken pipe|unexpected EOF|context canceled",
          "a connection or request was cut: startup/shutdown timing", "network", narrow=True),
    _sign(r"code = (?:Unavailable|DeadlineExceeded|Canceled|ResourceExhausted)|"
          r"etcdserver: (?:request timed out|leader changed|no leader|too many requests)|"
          r"\betcd\b.{0,40}\b(?:cancell?ed|unavailable|not ready|timed out)",
          "etcd/gRPC was unavailable for a moment: cluster timing", "cluster"),
    _sign(r"\bnot (?:the )?leader\b|\bno leader\b|leader (?:changed|not found|is not ready)",
          "leadership moved during the test: election timing", "cluster", narrow=True),
    _sign(r"signal: segmentation fault \(core dumped\)|trace/breakpoint trap|panic during panic",
          "a crash of the test binary that pd's own runner (pd-ut) retries as transient", "crash"),
)
BUILD_SIGN = _sign(
    r"\[build failed\]|\[setup failed\]|\.go:\d+:\d+: (?:undefined|cannot use|imported and not "
    r"used|declared and not used|too many arguments|not enough arguments|missing return|syntax "
    r"error)", "the code does not compile")
# fmt: on
MESSAGE_LINE_MAX = 200  # longer lines are dumps and logs: narrow signs do not look there

_LOG_NOISE = re.compile(r"^(?:\[(?:INFO|WARN|WARNING|DEBUG|ERROR)\]|[IWE] \S+\.go:\d+\])")
_GO_FILE = re.compile(r"(?<![\w/.-])((?:[\w.-]+/)+[\w.-]+\.go)\b")
_RACE_ACCESS = re.compile(r"^(?:Previous )?(?:Atomic )?(?:write|read) at ", re.IGNORECASE)
_NOT_HEADLINE = re.compile(
    r"^(?:\S+\.go:\d+:?|Error Trace:.*|=== \w+.*|--- FAIL.*|-{5,}|\[\w+\].*)$"
)
_RACE_END = re.compile(r"^(?:Goroutine N \(|={10,})")
_TEST_CODE = re.compile(
    r"_test\.go|_test\.|\bTest[A-Z_]\w*\(|testing\.tRunner|(?:^|/)tests?/|"
    r"/testutils?/"
)


def _quote(m: re.Match[str]) -> str:
    text = " ".join(m.group(0).split())
    return f"'{text[:60]}'"


def _evidence(failure: Failure) -> tuple[str, str]:
    """Signature and excerpt, normalised, without the product's own log records (pd's servers
    log 'connection refused' and 'timeout' all the time, in passing runs too); and of that
    the message lines that narrow signs read."""
    lines = normalize(f"{failure.signature}\n{failure.excerpt}").split("\n")
    kept = [line for line in lines if not _LOG_NOISE.match(line)]
    short = [line for line in kept if len(line) <= MESSAGE_LINE_MAX]
    return "\n".join(kept), "\n".join(short)


def _matches(signs: Iterable[Sign], text: str, message: str) -> list[tuple[Sign, str]]:
    found: list[tuple[Sign, str]] = []
    groups: set[str] = set()
    for sign in signs:
        if sign.group and sign.group in groups:
            continue
        m = sign.pattern.search(message if sign.narrow else text)
        if m:
            found.append((sign, f"{_quote(m)}: {sign.why}"))
            groups.add(sign.group)
    return found


@dataclass
class Facts:
    """Everything the rules read, computed once per failure."""

    failure: Failure
    signals: Signals
    infra: list[tuple[Sign, str]]
    flaky: list[str]
    build: str
    passes: list[str]
    shas: list[str]  # distinct commits where this failure was seen, the one under test first
    others: list[str]  # of those, the commits other than the one under test
    touched: list[str]  # changed files on the failure's path (its package, its traces)
    race_files: list[str]  # files on the racing stacks
    race_in_product_only: bool


def _race(text: str) -> tuple[list[str], bool]:
    """Files on a race report's access stacks, and whether no test code is on any of them."""
    files: list[str] = []
    frames: list[str] = []
    inside = False
    for line in text.split("\n"):
        if _RACE_ACCESS.match(line):
            inside = True
        elif _RACE_END.match(line):
            inside = False
        elif inside:
            frames.append(line)
            files += _GO_FILE.findall(line)
    if not frames:
        return [], False
    return files, not any(_TEST_CODE.search(f) for f in frames)


def _strs(values: Sequence[str] | None) -> list[str]:
    """A list of strings, where one string alone is one value, not its characters."""
    return [values] if isinstance(values, str) else list(values or ())


def _touched(failure: Failure, signals: Signals, text: str) -> list[str]:
    """Changed files in the failing package's folder or named in the failure's traces."""
    pkg = package_key(failure.package)
    traced = set(_GO_FILE.findall(text))
    hits = []
    for raw in _strs(signals.touched_paths):
        path = raw.strip().removeprefix("./").lstrip("/")
        folder = path.rsplit("/", 1)[0] if "/" in path else ""
        in_pkg = bool(pkg) and folder == pkg
        in_trace = any(
            t == path or t.endswith("/" + path) or path.endswith("/" + t) for t in traced
        )
        if in_pkg or in_trace:
            hits.append(path)
    return hits


def _passes(failure: Failure, s: Signals) -> list[str]:
    """Sentences for each pass seen at the commit under test."""
    at = f" {s.sha[:7]}" if s.sha else ""
    details = []
    if s.passed_attempt is not None:
        failed = s.failed_attempt if s.failed_attempt is not None else "an earlier"
        details.append(f"job attempt {failed} failed, attempt {s.passed_attempt} passed")
    passed = s.passed_attempt is not None or s.passed_at_same_sha
    if s.passed_where:
        details.append(s.passed_where)
    out = []
    if passed:
        out.append(
            f"failed and passed at the same commit{at}"
            + (f" ({'; '.join(details)})" if details else "")
        )
    top = failure.test.split("/", 1)[0]
    if failure.test and (failure.test in s.passed_tests or top in s.passed_tests):
        out.append(f"{failure.test} passed at the same commit{at} in another job")
    return out


def facts(failure: Failure, signals: Signals | None = None) -> Facts:
    s = signals or Signals()
    text, message = _evidence(failure)
    fp = failure.fingerprint or fingerprint(failure)
    seen = [s.sha, *_strs(s.failed_shas), *_strs(s.failed_shas_by_fingerprint.get(fp, ()))]
    shas = list(dict.fromkeys(x for x in seen if x))
    others = [x for x in shas if x != s.sha] if s.sha else shas[1:]
    infra = _matches(INFRA_SIGNS, text, message)
    if not failure.test and not failure.package and failure.kind != "build":
        infra += _matches((TOOLING_SIGN,), text, message)
    flaky = [why for _, why in _matches(FLAKY_SIGNS, text, message)]
    if failure.kind in FLAKY_KINDS and not flaky:
        flaky.append(f"{failure.kind} failure: {FLAKY_KINDS[failure.kind]}")
    build = ""
    if failure.kind == "build":
        build = "the package does not compile (build failure)"
    elif m := BUILD_SIGN.pattern.search(text):
        build = f"{_quote(m)}: {BUILD_SIGN.why}"
    race_files, product_only = _race(text)
    touched = _touched(failure, s, text)
    passes = _passes(failure, s)
    return Facts(
        failure, s, infra, flaky, build, passes, shas, others, touched, race_files, product_only
    )


Verdict = tuple[str, list[str]]


def _sha_list(shas: Sequence[str]) -> str:
    shown = ", ".join(x[:7] for x in shas[:5])
    return shown + (f" and {len(shas) - 5} more" if len(shas) > 5 else "")


def rule_infra(f: Facts) -> Verdict | None:
    """Infrastructure: the extractor's infra kind, an infra signature, or a cancelled run whose
    failure has no test verdict of its own (a process killed by the cancellation prints bare
    FAIL lines and interrupt panics; a finished assertion or a test's own timeout stays)."""
    reasons = [why for _, why in f.infra]
    if f.failure.kind == "infra":
        first = _headline(f.failure.signature)
        reasons.insert(
            0, f"an infrastructure failure, not a test's: {first.removeprefix('infra: ')}"
        )
    if f.signals.was_cancelled and f.failure.kind in ("infra", "fail", "panic"):
        reasons.append("the run was cancelled: its failures were cut short, not verdicts")
    return ("infra", reasons) if reasons else None


def rule_build(f: Facts) -> Verdict | None:
    """A compile error is deterministic: a regression, unless the same commit built elsewhere,
    in which case the toolchain, cache or disk of one runner broke it."""
    if not f.build:
        return None
    if f.passes:
        return "infra", [
            f.build,
            *f.passes,
            "a build cannot fail and pass on the same code: the runner's environment broke it",
        ]
    return "regression", [f.build]


def rule_pass_same_sha(f: Facts) -> Verdict | None:
    """A pass and a fail of the same code (rerun, another attempt, job or workflow) is the
    strongest flaky evidence there is: it outweighs a touched file or an assertion."""
    if not f.passes:
        return None
    reasons = [*f.passes, *f.flaky]
    if f.touched:
        reasons.append(
            f"the commit touched {', '.join(f.touched[:3])}, but the pass at the same "
            "commit rules out a deterministic regression"
        )
    return "flaky", reasons


def rule_reported(f: Facts) -> Verdict | None:
    """A human's statement that the failure does or does not reproduce (info.json)."""
    if f.signals.deterministic is True:
        return "regression", ["reported as reproducing on every run (deterministic: true)"]
    if f.signals.deterministic is False:
        return "flaky", [
            "reported as not reproducing on every run (deterministic: false)",
            *f.flaky,
        ]
    return None


def rule_recurrence(f: Facts) -> Verdict | None:
    """The same fingerprint at several distinct base-branch commits: no one of them caused it."""
    if len(f.shas) < RECURRENCE_MIN:
        return None
    return "flaky", [
        f"failed the same way at {len(f.shas)} distinct base-branch commits "
        f"({_sha_list(f.shas)}): it recurs across unrelated changes",
        *f.flaky,
    ]


def _elsewhere(f: Facts) -> list[str]:
    if not f.others:
        return []
    return [
        f"also failed the same way at another commit ({_sha_list(f.others)}), so the "
        "commit under test did not introduce it"
    ]


def rule_flaky_signature(f: Facts) -> Verdict | None:
    """Known timing-dependent signatures are flaky unless contradicted: by a change on the
    failure's path (left unknown; a race in a changed file is a regression), or by a race
    whose two sides are both product code (a concurrency bug in the product, which a recent
    change may have introduced; history decides)."""
    if not f.flaky:
        return None
    elsewhere = _elsewhere(f)
    if not elsewhere:
        raced = [p for p in f.touched if any(p.endswith(r) or r.endswith(p) for r in f.race_files)]
        if raced:
            return "regression", [
                *f.flaky,
                f"the data race runs through {', '.join(raced[:3])}, which the commit changed",
            ]
        if f.touched:
            return "unknown", [
                *f.flaky,
                f"but the commit touched {', '.join(f.touched[:3])}: "
                "a rerun at the same commit tells a flake from a regression",
            ]
        if f.race_in_product_only:
            return "unknown", [
                *f.flaky,
                "but both sides of the race are product code, no test "
                "code: a concurrency bug in the product that a recent change may "
                "have introduced; its history decides",
            ]
    return "flaky", [*f.flaky, *elsewhere]


def rule_touched_deterministic(f: Facts) -> Verdict | None:
    """A deterministic failure (assertion, plain failure, panic) in a test or package that the
    commit changed, with no flaky evidence and not seen at other commits: a regression."""
    if f.failure.kind not in DETERMINISTIC_KINDS or not f.touched or f.others:
        return None
    what = f.failure.test or f.failure.package or "the failing code"
    return "regression", [
        f"{f.failure.kind} failure in {what} with no timing-dependent sign",
        f"the commit changed code on its path: {', '.join(f.touched[:3])}",
    ]


def _headline(signature: str) -> str:
    """The signature's line that says what went wrong, not where (for a reason sentence)."""
    lines = normalize(signature).split("\n")
    told = [line for line in lines if not _NOT_HEADLINE.match(line)]
    return next((x for x in told if x.startswith("Error:")), (told or [""])[0])[:100]


def rule_unknown(f: Facts) -> Verdict:
    """Nothing decisive: say what was seen and what would decide."""
    first = _headline(f.failure.signature)
    seen = f"{f.failure.kind} failure" + (f" ('{first}')" if first else "")
    reasons = [f"{seen} with no flaky, regression or infrastructure sign in the log"]
    reasons += _elsewhere(f)
    if f.signals.touched_paths is not None and not f.touched:
        reasons.append("the commit did not touch the failing test's package or traces")
    reasons.append(
        "a rerun at the same commit, or the failure recurring at other commits, "
        "would decide between flaky and regression"
    )
    return "unknown", reasons


RULES: tuple[Callable[[Facts], Verdict | None], ...] = (
    rule_infra,
    rule_build,
    rule_pass_same_sha,
    rule_reported,
    rule_recurrence,
    rule_flaky_signature,
    rule_touched_deterministic,
)


def decide(known: Facts) -> Verdict:
    """The first rule that decides, else unknown."""
    for rule in RULES:
        verdict = rule(known)
        if verdict is not None:
            return verdict
    return rule_unknown(known)


def classify(failure: Failure, signals: Signals | None = None) -> Verdict:
    """The category (one of CATEGORIES) of one failure, and the reasons that led to it."""
    return decide(facts(failure, signals))


def classify_all(failures: list[Failure], signals: Signals | None = None) -> None:
    """Set category and reasons on each failure of one log.

    A job-wide infrastructure failure in the log (full disk, OOM, lost runner, module
    downloads) also explains that log's undecided failures and its build failures: a disk
    that filled up fails compilation and tests alike.
    """
    known = [facts(f, signals) for f in failures]
    wide = [why for k in known for sign, why in k.infra if sign.environment_wide]
    for k in known:
        category, reasons = decide(k)
        if wide and (category == "unknown" or (category == "regression" and k.build)):
            category = "infra"
            reasons = [f"the same log shows the job's environment failing ({wide[0]})", *reasons]
        k.failure.category, k.failure.reasons = category, reasons
