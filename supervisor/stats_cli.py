"""`supervisor stats`: what happened in a period, as text, JSON or one HTML page."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from supervisor import report
from supervisor.errors import UserError
from supervisor.home import Home
from supervisor.report import html, text
from supervisor.store import write_text_atomic


@click.command(name="stats")
@click.option("--since", default=None, help="From: a date, a UTC time, or 12h / 7d ago.")
@click.option("--until", default=None, help="To (default: now); same forms as --since.")
@click.option("--item", "item_id", default=None, help="Only this item.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object (keys in the README).")
@click.option("--html", "as_html", is_flag=True, help="Write the report page.")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where --html writes [default: logs/report.html].",
)
@click.pass_context
def stats_cmd(
    ctx: click.Context,
    since: str | None,
    until: str | None,
    item_id: str | None,
    as_json: bool,
    as_html: bool,
    out: Path | None,
) -> None:
    """The morning report: what the supervisor did since the last start (or --since).

    Items found, filed, analysed, approved, fixed, merged and failed (and why); pull requests;
    attempts and time per step; tokens and cost per agent; flaky tests' failure rates before and
    after; what needs a person, first.
    """
    home = ctx.find_object(Home)
    assert home is not None
    if as_json and as_html:
        raise click.UsageError("--json and --html are two outputs: give one")
    if not home.config_file.exists() and not home.items_dir.exists():
        raise UserError(
            f"{home.root} is not a supervisor home (no supervisor.yaml, no state/items): "
            "run it where you ran `supervisor start`, or give --home"
        )
    cfg, items = report.load(home)
    if item_id is not None and not any(i.id == item_id for i in items):
        raise UserError(f"no item {item_id!r}: `supervisor items` lists them")
    per = report.period(home, since, until)
    if per.since and per.since > per.until:
        raise UserError(f"--since ({per.since}) is after --until ({per.until})")
    target = (out or home.logs / "report.html") if as_html else None
    issue_url, pull_url = report.links(home, cfg, target)
    figures = report.collect(items, per, issue_url, pull_url, only=item_id)
    if as_json:  # indented for a person at a terminal; compact (and fast) for a program
        click.echo(json.dumps(figures, indent=2 if sys.stdout.isatty() else None))
    elif target is not None:
        target.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(target, html.render(figures))
        click.echo(f"wrote {target} ({figures['items']['active']} active items)")
    else:
        click.echo(text.render(figures))
