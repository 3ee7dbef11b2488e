"""`supervisor forge ...`: a person's side of the local forge (show, comment, label, review,
close, list), so nobody has to edit its JSON files or call the Python API."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from supervisor.config import load_config
from supervisor.errors import UserError
from supervisor.forge.local import AUTHOR, LocalForge, machine_user
from supervisor.home import Home
from supervisor.ids import IssueNumber

AS_HELP = "Act as this login [default: the machine's user, the local forge's OWNER]."


def _forge(ctx: click.Context) -> LocalForge:
    """The home's local forge; a home on GitHub has none."""
    home = ctx.find_object(Home)
    assert home is not None
    cfg = load_config(home.config_file)
    if cfg.forge != "local":
        raise UserError(
            f"`supervisor forge` works on the local forge only, and {home.config_file} says "
            f"forge: {cfg.forge}: comment, label and review on GitHub itself ({cfg.target}, "
            "on the web or with `gh`)"
        )
    return LocalForge(home.forge_dir)


def _kind(f: LocalForge, number: int) -> str:
    """'issue' or 'pull' for a number the forge has."""
    if (f.issues_dir / f"{number}.json").exists():
        return "issue"
    if (f.pulls_dir / f"{number}.json").exists():
        return "pull"
    raise UserError(
        f"the local forge has no issue or pull request #{number} ({f.root}): "
        "`supervisor forge list --state all` lists them"
    )


def _login(login: str | None) -> str:
    who = login or machine_user()
    if who == AUTHOR:
        raise UserError(f"{AUTHOR!r} is the supervisor's own login: pass --as another login")
    return who


def _text(text: str) -> str:
    """TEXT as given, or stdin for '-'."""
    return sys.stdin.read() if text == "-" else text


def _indent(text: str) -> str:
    return "\n".join(f"    {line}" for line in (text.strip() or "(empty)").splitlines())


@click.group()
def forge() -> None:
    """Act on the local forge: show, comment, label, review, close, list.

    A person's words and acts are recorded as --as LOGIN (the machine's user by default, who is
    the forge's OWNER); the supervisor reads them on its next chain.
    """


@forge.command(name="list")
@click.option(
    "--state",
    type=click.Choice(["open", "closed", "all"]),
    default="open",
    show_default=True,
    help="closed includes merged pull requests.",
)
@click.pass_context
def list_cmd(ctx: click.Context, state: str) -> None:
    """List issues and pull requests, one line each."""
    f = _forge(ctx)
    numbers = sorted(
        int(p.stem)
        for d in (f.issues_dir, f.pulls_dir)
        if d.exists()
        for p in d.glob("*.json")
        if p.stem.isdigit()
    )
    shown = 0
    for n in numbers:
        if _kind(f, n) == "issue":
            i = f.get_issue(IssueNumber(n))
            kind, st, title = "issue", i.state, i.title
            extra = f"  [{', '.join(i.labels)}]" if i.labels else ""
        else:
            p = f.get_pull(n)
            kind, st, title, extra = "pull", p.state, p.title, f"  ({p.head} -> {p.base})"
        if state == "all" or (st == "open") == (state == "open"):
            click.echo(f"#{n:<5} {kind:<6} {st:<7} {title}{extra}")
            shown += 1
    if not shown:
        click.echo(f"no {'' if state == 'all' else state + ' '}issues or pull requests")


@forge.command()
@click.argument("number", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print the raw record.")
@click.pass_context
def show(ctx: click.Context, number: int, as_json: bool) -> None:
    """Show an issue or a pull request: state, labels, comments, reviews."""
    f = _forge(ctx)
    kind = _kind(f, number)
    if as_json:
        path = (f.issues_dir if kind == "issue" else f.pulls_dir) / f"{number}.json"
        try:
            doc: Any = json.loads(path.read_bytes())
        except ValueError as e:
            raise UserError(f"{path} is not valid JSON ({e}): fix or remove it") from e
        click.echo(json.dumps(doc, indent=2, sort_keys=True))
        return
    if kind == "issue":
        i = f.get_issue(IssueNumber(number))
        lines = [f"issue #{number}  {i.state}  {i.title}", f"author: {i.author or '-'}"]
        lines.append(f"labels: {', '.join(i.labels) or '-'}")
        body = i.body
    else:
        p = f.get_pull(number)
        lines = [f"pull request #{number}  {p.state}{'  draft' if p.draft else ''}  {p.title}"]
        merged = f"  merged as {p.merged_sha}" if p.merged_sha else ""
        lines.append(f"{p.head} -> {p.base}{merged}")
        body = p.body
    lines += ["", _indent(body)]
    for c in f.list_comments(number):
        lines += ["", f"comment {c.id} by @{c.author} ({c.author_association})", _indent(c.body)]
    if kind == "pull":
        for r in f.list_reviews(number):
            lines += ["", f"review {r.id} by @{r.author} ({r.author_association}): {r.state}"]
            lines += [_indent(r.body)] if r.body.strip() else []
        for rc in f.list_review_comments(number):
            where = f"{rc.path}:{rc.line}" if rc.line is not None else rc.path
            reply = f", in reply to {rc.in_reply_to}" if rc.in_reply_to else ""
            lines += ["", f"review comment {rc.id} by @{rc.author} on {where}{reply}"]
            lines.append(_indent(rc.body))
    click.echo("\n".join(lines))


@forge.command()
@click.argument("number", type=int)
@click.argument("text")
@click.option("--as", "login", default=None, metavar="LOGIN", help=AS_HELP)
@click.pass_context
def comment(ctx: click.Context, number: int, text: str, login: str | None) -> None:
    """Comment on an issue or a pull request; prints the comment's id.

    TEXT - reads it from stdin. With approval.mode comment, `supervisor forge comment N /ai-fix`
    approves a fix (as the owner, or as a login in approval.users).
    """
    f = _forge(ctx)
    _kind(f, number)
    who = _login(login)
    body = _text(text)
    if not body.strip():
        raise UserError("the comment is empty: give its TEXT, or - to read it from stdin")
    click.echo(f.comment(number, body, author=who).id)


@forge.command()
@click.argument("number", type=int)
@click.argument("label")
@click.option("--remove", is_flag=True, help="Remove the label instead.")
@click.option("--as", "login", default=None, metavar="LOGIN", help=AS_HELP)
@click.pass_context
def label(ctx: click.Context, number: int, label: str, remove: bool, login: str | None) -> None:
    """Add (or remove) a label on an issue, recorded as your act."""
    f = _forge(ctx)
    if _kind(f, number) == "pull":
        raise UserError(
            f"#{number} is a pull request: the local forge keeps labels on issues only; "
            "label its issue (`supervisor forge list` shows both)"
        )
    who = _login(login)
    f.set_label(IssueNumber(number), label, who, add=not remove)
    click.echo(f"{'removed' if remove else 'added'} label {label!r} on #{number} as @{who}")


def _line_comment(spec: str) -> dict[str, Any]:
    path, _, rest = spec.partition(":")
    line, _, body = rest.partition(":")
    if not path or not line.isdigit() or not body.strip():
        raise UserError(f"--line {spec!r}: write it as PATH:LINE:TEXT, e.g. src/a.py:12:why?")
    return {"path": path, "line": int(line), "body": body}


@forge.command()
@click.argument("number", type=int)
@click.option("--approve", is_flag=True, help="Approve the pull request.")
@click.option("--request-changes", is_flag=True, help="Ask for changes (say which).")
@click.option("--comment", "only_comment", is_flag=True, help="Comment without a verdict.")
@click.option(
    "-m", "--message", default="", metavar="TEXT", help="The review's text (- reads stdin)."
)
@click.option(
    "--line",
    "lines",
    multiple=True,
    metavar="PATH:LINE:TEXT",
    help="A comment on that line of the diff (repeatable).",
)
@click.option("--as", "login", default=None, metavar="LOGIN", help=AS_HELP)
@click.pass_context
def review(
    ctx: click.Context,
    number: int,
    approve: bool,
    request_changes: bool,
    only_comment: bool,
    message: str,
    lines: tuple[str, ...],
    login: str | None,
) -> None:
    """Review a pull request: --approve, --request-changes or --comment."""
    verdicts = {
        "APPROVED": approve,
        "CHANGES_REQUESTED": request_changes,
        "COMMENTED": only_comment,
    }
    chosen = [state for state, given in verdicts.items() if given]
    if len(chosen) != 1:
        raise UserError("a review is one of --approve, --request-changes or --comment: pass one")
    f = _forge(ctx)
    if _kind(f, number) == "issue":
        raise UserError(
            f"#{number} is an issue, not a pull request: comment on it with "
            f"`supervisor forge comment {number} TEXT` instead"
        )
    who = _login(login)
    body = _text(message)
    threads = [_line_comment(s) for s in lines]
    if chosen[0] != "APPROVED" and not body.strip() and not threads:
        raise UserError("say what the review is about: pass -m TEXT or --line PATH:LINE:TEXT")
    r = f.add_review(number, who, chosen[0], body, threads)
    click.echo(f"review {r.id} ({r.state}) on pull request #{number} as @{who}")


@forge.command()
@click.argument("number", type=int)
@click.option("--reason", default="not_planned", show_default=True, help="Why it is closed.")
@click.option("--as", "login", default=None, metavar="LOGIN", help=AS_HELP)
@click.pass_context
def close(ctx: click.Context, number: int, reason: str, login: str | None) -> None:
    """Close an issue, or a pull request without merging it."""
    f = _forge(ctx)
    kind = _kind(f, number)
    who = _login(login)
    state = f.get_issue(IssueNumber(number)).state if kind == "issue" else f.get_pull(number).state
    if state != "open":
        click.echo(f"#{number} is {state} already")
        return
    f.close_issue(IssueNumber(number), reason, by=who)
    click.echo(f"closed {'issue' if kind == 'issue' else 'pull request'} #{number} as @{who}")
