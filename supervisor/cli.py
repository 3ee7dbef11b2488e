"""The command line: a thin Click adapter over the modules. Exit codes are in errors.py."""

from __future__ import annotations

import json
import os
import shlex
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import click

# The heavy modules (the chain, the GitHub client) are imported by the commands that use them,
# so that a quick command (stats, status, items, --version) starts fast.
from supervisor import __version__
from supervisor.config import AGENT_NAMES
from supervisor.config_render import render_default
from supervisor.errors import EXIT_CRASH, EXIT_INTERRUPTED, EXIT_USER, UserError
from supervisor.forge_cli import forge
from supervisor.home import Home
from supervisor.items import STATES
from supervisor.process import ProcessState
from supervisor.redact import redact
from supervisor.reproduce_cli import reproduce_cmd
from supervisor.stats_cli import stats_cmd
from supervisor.store import write_text_atomic

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def _home(ctx: click.Context) -> Home:
    home = ctx.find_object(Home)
    assert home is not None
    return home


@click.group(context_settings=CONTEXT)
@click.version_option(__version__, "--version", prog_name="supervisor")
@click.option(
    "--home",
    "home_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Folder with supervisor.yaml, state/, logs/, worktrees/ "
    "[default: $SUPERVISOR_HOME or the current directory].",
)
@click.pass_context
def cli(ctx: click.Context, home_dir: str | None) -> None:
    """An overnight supervisor for coding agents.

    It finds work in a target repository, runs a coding agent on each item in its own git
    worktree, proves the change in a second clean worktree, and lands it only when proven.
    `touch state/STOP` stops it at any time.
    """
    ctx.obj = Home.resolve(home_dir)


@cli.command()
@click.option("--target", required=True, help="The repository: a local path (forge local).")
@click.option(
    "--forge",
    type=click.Choice(["local", "github"]),
    default="local",
    show_default=True,
    help="Where issues and pull requests live.",
)
@click.option("--base-branch", default=None, help="[default: the target's current branch]")
@click.option(
    "--worker",
    default=None,
    help=f"The worker: {', '.join(n for n in AGENT_NAMES if n != 'none')}, or a command "
    "line run through the command adapter.",
)
@click.option("--reviewer", default=None, help="none, codex, claude, or a command line.")
@click.option("--gate-fast", multiple=True, help="A fast gate command (repeatable).")
@click.option("--gate-slow", multiple=True, help="A slow gate command (repeatable).")
@click.option("--force", is_flag=True, help="Overwrite an existing supervisor.yaml.")
@click.pass_context
def init(
    ctx: click.Context,
    target: str,
    forge: str,
    base_branch: str | None,
    worker: str | None,
    reviewer: str | None,
    gate_fast: tuple[str, ...],
    gate_slow: tuple[str, ...],
    force: bool,
) -> None:
    """Write a commented supervisor.yaml (every default shown) for a target."""
    from supervisor import app, git

    home = _home(ctx)
    if home.config_file.exists() and not force:
        raise UserError(f"{home.config_file} exists already; pass --force to overwrite it")
    overrides: dict[str, Any] = {"forge": forge}
    if forge == "local":
        path = Path(target).expanduser().resolve()
        if not git.is_repo(path):
            raise UserError(f"--target {target}: {path} is not a git repository")
        overrides["target"] = os.path.relpath(path, home.root)
        overrides["base_branch"] = base_branch or git.default_branch(path)
    else:
        overrides["target"] = target
        if base_branch:
            overrides["base_branch"] = base_branch
    for role, value in (("worker", worker), ("reviewer", reviewer)):
        if value:
            overrides[f"agents.{role}"] = _agent_spec(value)
    if gate_fast:
        overrides["gate.fast"] = list(gate_fast)
    if gate_slow:
        overrides["gate.slow"] = list(gate_slow)
    write_text_atomic(home.config_file, render_default(overrides))
    home.ensure_dirs()
    app.load(home)  # what init writes must load
    click.echo(f"wrote {home.config_file}")
    click.echo("next: `supervisor doctor`, then `supervisor start`")


def _agent_spec(value: str) -> Any:
    from supervisor.config import AgentSpec

    if value in AGENT_NAMES:
        return AgentSpec(value)
    return AgentSpec("command", tuple(shlex.split(value)))


@cli.command(name="doctor")
@click.pass_context
def doctor_cmd(ctx: click.Context) -> int:
    """Check git, the config, the target, the agent commands and free disk."""
    from supervisor import doctor

    checks = doctor.run_checks(_home(ctx))
    click.echo(doctor.render(checks))
    failed = [c for c in checks if not c.ok]
    click.echo(f"{len(failed)} problem(s) found" if failed else "all checks passed")
    return EXIT_USER if failed else 0


@cli.command()
@click.option("--once", is_flag=True, help="Run one chain, then exit.")
@click.option("--until-idle", is_flag=True, help="Run chains until there is nothing left to do.")
@click.option(
    "--max-items",
    type=click.IntRange(min=1),
    default=None,
    help="Work on at most N items, then exit.",
)
@click.option("--dry-run", is_flag=True, help="Print what a chain would do; change nothing.")
@click.option(
    "--background", is_flag=True, help="Detach from the terminal; log to logs/supervisor.log."
)
@click.pass_context
def start(
    ctx: click.Context,
    once: bool,
    until_idle: bool,
    max_items: int | None,
    dry_run: bool,
    background: bool,
) -> int:
    """Run the chain: scan, triage, dispatch, verify, review, publish, follow.

    Without --once or --until-idle it runs a chain every schedule.every until state/STOP appears.
    """
    from supervisor import app, dryrun, runner

    home = _home(ctx)
    cfg = app.load(home)
    if dry_run:
        for line in dryrun.plan(home, cfg):
            click.echo(line)
        return 0
    if background:
        args = ["--once"] if once else []
        args += ["--until-idle"] if until_idle else []
        args += ["--max-items", str(max_items)] if max_items else []
        return runner.start_background(home, args, click.echo)
    app.setup_logging(home, console=os.environ.get("SUPERVISOR_BACKGROUND") != "1")
    try:
        return runner.start(home, cfg, runner.StartOptions(once, until_idle, max_items), click.echo)
    finally:
        app.teardown_logging()


@cli.command()
@click.option("--dry-run", is_flag=True, help="Print what would be filed; change nothing.")
@click.pass_context
def scan(ctx: click.Context, dry_run: bool) -> int:
    """Discovery and triage only: file or update forge issues; no agent runs."""
    from supervisor import app, dryrun, runner

    home = _home(ctx)
    cfg = app.load(home)
    if dry_run:
        for line in dryrun.scan_plan(home, cfg):
            click.echo(line)
        return 0
    app.setup_logging(home, console=True)
    try:
        return runner.scan_only(home, cfg, click.echo)
    finally:
        app.teardown_logging()


@cli.command()
@click.argument("logs", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def triage(logs: tuple[str, ...], as_json: bool) -> None:
    """Extract, fingerprint and classify the failures in CI log files (offline).

    Each failure is printed with its test, package, kind, category and the reasons for it.
    """
    from supervisor.ci.logs import file_ref
    from supervisor.ci.scan import triage_log

    failures = []
    for name in logs:
        path = Path(name)
        try:
            with open(path, "rb"):
                pass
        except OSError as e:
            raise UserError(f"{name}: cannot read it ({e.strerror or e})") from e
        failures += triage_log(file_ref(path))
    if as_json:
        click.echo(json.dumps({"failures": [f.to_json() for f in failures]}, indent=2))
        return
    if not failures:
        click.echo("no failures found")
    for f in failures:
        click.echo(f"{f.category:<10} {f.kind:<14} {f.test or '(package)'}  {f.package}")
        click.echo(f"    {f.fingerprint}: {'; '.join(f.reasons)}")


@cli.command()
@click.option("--wait", is_flag=True, help="Return only when the running supervisor has exited.")
@click.option("--timeout", type=float, default=None, help="With --wait: give up after SECONDS.")
@click.pass_context
def stop(ctx: click.Context, wait: bool, timeout: float | None) -> int:
    """Create state/STOP: the running supervisor stops within a second."""
    home = _home(ctx)
    home.state.mkdir(parents=True, exist_ok=True)
    home.stop_file.write_text(f"stop requested by `supervisor stop` at {time.ctime()}\n")
    proc = ProcessState(home)
    running = proc.running()
    if running is None:
        click.echo(
            f"not running; {home.stop_file} is in place, so `start` refuses until you "
            f"remove it (rm {home.stop_file})"
        )
        return 0
    click.echo(f"asked the supervisor (pid {running.pid}) to stop")
    if wait:
        deadline = None if timeout is None else time.monotonic() + timeout
        while proc.running() is not None:
            if deadline is not None and time.monotonic() > deadline:
                raise UserError(f"still running after {timeout:g}s (pid {running.pid})")
            time.sleep(0.1)
        click.echo("stopped")
    return 0


@cli.command(name="status")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
def status_cmd(ctx: click.Context, as_json: bool) -> None:
    """Whether it runs (pid checked), its phase and item, the counts per state."""
    from supervisor import status

    s = status.collect(_home(ctx))
    click.echo(json.dumps(s, indent=2, sort_keys=True) if as_json else status.render(s))


@cli.command()
@click.option(
    "--state",
    "states",
    multiple=True,
    type=click.Choice(STATES),
    help="Only items in this state (repeatable).",
)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
@click.pass_context
def items(ctx: click.Context, states: tuple[str, ...], as_json: bool) -> None:
    """List the items."""
    from supervisor import app

    found = [i for i in app.item_store(_home(ctx)).all() if not states or i.state in states]
    if as_json:
        click.echo(json.dumps([i.to_dict() for i in found], indent=2, sort_keys=True))
        return
    if not found:
        click.echo("no items")
        return
    for i in found:
        issue = f"#{i.issue}" if i.issue is not None else "-"
        click.echo(
            f"{i.id:<18} {i.state:<18} {issue:<6} attempts {len(i.attempts)}  {i.title[:60]}"
        )


@cli.command()
@click.argument("item_id")
@click.option("--json", "as_json", is_flag=True, help="Print the item as JSON.")
@click.pass_context
def show(ctx: click.Context, item_id: str, as_json: bool) -> None:
    """Show one item's whole story.

    Where it was found, its occurrences and classification, the stress runs, the conversation,
    every attempt (agent, gates, review, its failure) and its history.
    """
    from supervisor import app, report
    from supervisor.story import story

    home = _home(ctx)
    item = app.item_store(home).get(item_id)
    if item is None:
        raise UserError(f"no item {item_id!r}: `supervisor items` lists them")
    if as_json:
        click.echo(json.dumps(item.to_dict(), indent=2, sort_keys=True))
        return
    cfg = app.load(home) if home.config_file.exists() else None
    click.echo(story(item, *report.links(home, cfg)))


@cli.command()
@click.argument("item_id", required=False)
@click.option("-f", "--follow", is_flag=True, help="Keep printing as the log grows (Ctrl-C ends).")
@click.option(
    "-n",
    "--lines",
    type=click.IntRange(min=0),
    default=50,
    show_default=True,
    help="How many of the last lines to print first.",
)
@click.pass_context
def logs(ctx: click.Context, item_id: str | None, follow: bool, lines: int) -> None:
    """Print the supervisor log, or ITEM's latest agent output."""
    from supervisor import logview

    path = logview.log_path(_home(ctx), item_id)
    logview.show(path, lines, follow, click.echo)


@cli.command()
@click.option("--dry-run", is_flag=True, help="Print what would be removed.")
@click.pass_context
def cleanup(ctx: click.Context, dry_run: bool) -> None:
    """Remove the worktrees and branches of finished items."""
    from supervisor import app
    from supervisor.cleanup import cleanup as do_cleanup

    home = _home(ctx)
    removed = do_cleanup(home, app.load(home), dry_run)
    verb = "would remove" if dry_run else "removed"
    for line in removed:
        click.echo(f"{verb} {line}")
    if not removed:
        click.echo("nothing to clean up")


cli.add_command(forge)
cli.add_command(reproduce_cmd)
cli.add_command(stats_cmd)


@cli.command()
@click.option(
    "--dir",
    "folder",
    type=click.Path(file_okay=False, path_type=Path),
    default="supervisor-demo",
    show_default=True,
    help="A new folder for the sample project, its CI logs and the supervisor's home.",
)
def demo(folder: Path) -> int:
    """A first night to watch: no GitHub, no agent account needed.

    Makes a sample project with a genuinely flaky test and a task, produces real CI logs by
    running its tests, and runs the chain on the local forge: scan, triage, stress runs with
    real failure rates, then the analysis and the fixes with the agent CLI installed and logged
    in (codex or claude). Without one, it stops before those steps and says what to install.
    The report is written to the home's logs/report.html.
    """
    from supervisor import demo as sample

    return sample.run(folder, click.echo)


def main(argv: list[str] | None = None) -> None:
    """Entry point: maps errors to the documented exit codes."""
    try:
        code = cli.main(args=argv, prog_name="supervisor", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except UserError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(EXIT_USER)
    except Exception:
        sys.exit(_crash(sys.argv[1:] if argv is None else argv))
    sys.exit(code if isinstance(code, int) else 0)


def _crash(argv: list[str]) -> int:
    """Write the traceback (redacted) to the home's logs/crash.log; the exit code for a crash."""
    text = redact(traceback.format_exc())
    home_arg = None
    for i, arg in enumerate(argv):
        if arg == "--home" and i + 1 < len(argv):
            home_arg = argv[i + 1]
        elif arg.startswith("--home="):
            home_arg = arg.split("=", 1)[1]
    home = Home.resolve(home_arg)
    try:
        home.logs.mkdir(parents=True, exist_ok=True)
        with open(home.crash_log, "a", encoding="utf-8") as f:
            command = shlex.join(["supervisor", *argv])
            f.write(f"--- {time.ctime()} supervisor {__version__}: {command}\n{text}\n")
        where = str(home.crash_log)
    except OSError:
        where = "(could not write a crash log)"
    last = text.strip().splitlines()[-1] if text.strip() else "unknown error"
    click.echo(
        f"unexpected error: {last}\nthe full traceback is in {where}; please report it", err=True
    )
    return EXIT_CRASH
