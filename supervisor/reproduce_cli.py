"""`supervisor reproduce`: stress-run one test and say how often it fails, with confidence."""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click

from supervisor.config import Reproduce, load_config, parse_duration
from supervisor.home import Home

if TYPE_CHECKING:
    from supervisor.reproduce.stress import Measurement


def _duration(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as e:
        raise click.BadParameter(f"{value!r}: {e} (e.g. 90s, 10m, 1h)") from None


class _Progress:
    """A bar on a terminal, a line every tenth of the runs otherwise (or nothing for --json)."""

    def __init__(self, total: int, tty: bool, quiet: bool) -> None:
        self.total, self.tty, self.quiet = total, tty, quiet
        self.step = max(1, total // 10)

    def __call__(self, m: Measurement) -> None:
        if self.quiet:
            return
        done, failed = m.runs, m.failures
        if self.tty:
            width = 30
            filled = min(width, width * done // max(1, self.total))
            bar = "#" * filled + "." * (width - filled)
            sys.stderr.write(f"\r[{bar}] {done}/{self.total} runs, {failed} failed")
            sys.stderr.flush()
        elif done % self.step == 0:
            click.echo(f"{done}/{self.total} runs, {failed} failed", err=True)

    def end(self) -> None:
        if self.tty and not self.quiet:
            sys.stderr.write("\n")


@click.command(name="reproduce")
@click.argument("test")
@click.option(
    "--path",
    "path",
    type=click.Path(file_okay=False, path_type=Path),
    default=".",
    show_default=True,
    help="The folder the test is in (a Go package, or a Python project).",
)
@click.option(
    "--runner",
    type=click.Choice(["go", "pytest", "command"]),
    default=None,
    help="How to run it (default: reproduce.runner, detected from the files).",
)
@click.option("--runs", type=click.IntRange(min=1), default=None, help="How many runs at most.")
@click.option("--budget", default=None, help="Total time, e.g. 10m (default: reproduce.budget).")
@click.option("--parallel", type=click.IntRange(min=1), default=None, help="Runs at once.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
def reproduce_cmd(
    ctx: click.Context,
    test: str,
    path: Path,
    runner: str | None,
    runs: int | None,
    budget: str | None,
    parallel: int | None,
    as_json: bool,
) -> None:
    """Stress-run TEST and report its failure rate with a 95% confidence interval.

    TEST is a Go test (TestName, or TestSuite/TestCase), a pytest node id, or what the
    reproduce.command template takes as {test}. The settings come from supervisor.yaml
    (section reproduce) when the home has one. The log of every failed run is kept.
    """
    from supervisor import reproduce  # the stress runner, only for this command
    from supervisor.stopwatch import StopWatcher

    home = ctx.find_object(Home)
    assert home is not None
    r = load_config(home.config_file).reproduce if home.config_file.exists() else Reproduce()
    runner = runner or r.runner
    if runner == "none":
        runner = "auto"
    if home.config_file.exists():
        stamp = time.strftime("%Y%m%dT%H%M%S")
        work = home.runs_dir / "reproduce" / f"{_safe(test)}-{stamp}"
    else:
        work = Path(tempfile.mkdtemp(prefix="supervisor-reproduce-"))
    watcher = StopWatcher(home.stop_file) if home.config_file.exists() else None
    if watcher is not None:  # in a home, state/STOP ends it too, as it ends the chain
        watcher.start()
    total = runs or r.runs
    progress = _Progress(total, sys.stderr.isatty(), as_json)
    try:
        stop = watcher.event if watcher is not None else None
        spec = reproduce.build_spec(
            test, path.resolve(), runner, r, work / "build", stop_event=stop
        )
        m, v = reproduce.measure_before(
            spec,
            r,
            work / "logs",
            runs=runs,
            budget=_duration(budget),
            parallel=parallel,
            stop_event=stop,
            progress=progress,
        )
    finally:
        progress.end()
        if watcher is not None:
            watcher.close()
    doc = reproduce.report(m, v)
    if as_json:
        click.echo(json.dumps(doc, indent=2))
        return
    click.echo(f"{test}: {v.words}")
    click.echo(f"command: {spec.shown} (in {spec.cwd})")
    click.echo(
        f"runs: {m.runs} ({m.parallel} at a time), {m.seconds_per_run:.2f}s per run, "
        f"{m.wall_s:.1f}s in all" + (f", {m.timeouts} timed out" if m.timeouts else "")
    )
    for fp in m.fingerprints:
        click.echo(f"failure fingerprint: {fp}")
    if m.failed_logs:
        click.echo(f"failed runs' logs: {Path(m.failed_logs[0]).parent}")


def _safe(test: str) -> str:
    keep = "".join(c if c.isalnum() or c in "-_." else "-" for c in test)
    return keep.strip("-")[:80] or "test"
